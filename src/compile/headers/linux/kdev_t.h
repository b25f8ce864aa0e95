/*
 * tsbpf shim for the kernel's <linux/kdev_t.h>: inside the kernel a dev_t
 * keeps the major number above a 20-bit minor (user space's encoding, with
 * the minor split around the major, is another one: see new_decode_dev).
 */
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)
#define MAJOR(dev) ((unsigned int)((dev) >> MINORBITS))
#define MINOR(dev) ((unsigned int)((dev) & MINORMASK))
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))
