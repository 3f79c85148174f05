// jemalloc as the server's allocator (Debian: libjemalloc-dev). Linking it replaces malloc and
// free for the whole process; the header gives access to its statistics (mallctl).
#include <jemalloc/jemalloc.h>
