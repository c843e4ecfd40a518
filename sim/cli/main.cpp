#include "sim/cli/commands.h"

int main(int argc, char** argv) { return dfsim::dfsim_main(argc, argv); }
