#include "userspace/daemon.h"

int main(int argc, char** argv) { return twin::capture::TwindMain(argc, argv); }
