// Header-only target: epoll is declared in include/cepoll.h; nothing to compile here.
#include "cepoll.h"
