#define FAKE_AS_DEMO 1
#include "../fake_model.c"
