#ifndef BD_VERSION_H
#define BD_VERSION_H
#define BD_VERSION "0.2.1"
#endif
