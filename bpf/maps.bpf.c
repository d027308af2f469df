/* The one definition of the shared maps (see common.bpf.h). */
#define TWIN_DEFINE_MAPS
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";
