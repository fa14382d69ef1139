#ifndef BD_VERSION_H
#define BD_VERSION_H
#define BD_VERSION "0.1.0"
#endif
