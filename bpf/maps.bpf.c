/* The one definition of the shared maps (see common.bpf.h). */
#define TWIN_DEFINE_MAPS
#include "common.bpf.h"

/* Set by twind before load (see common.bpf.h). */
const volatile __u32 wakeup_bytes = 0;

char LICENSE[] SEC("license") = "GPL";
