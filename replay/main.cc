#include "replay/replay.h"

int main(int argc, char** argv) { return twin::ReplayMain(argc, argv); }
