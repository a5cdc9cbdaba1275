// dlopen_host.c compiled as C++: the same host with libstdc++ in its global scope.
#include "dlopen_host.c"
