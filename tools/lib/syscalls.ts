export { syscallName, syscallNumber, syscallTable } from "../../src/kernel/syscalls.js";
