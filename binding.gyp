# The addon is described once, in native/binding.gyp (paths there are relative to native/).
{ "includes": ["native/binding.gyp"] }
