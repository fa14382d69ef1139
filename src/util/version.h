#ifndef BD_VERSION_H
#define BD_VERSION_H
#define BD_VERSION "0.2.0"
#endif
