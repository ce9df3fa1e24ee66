/* TEST ONLY: the smallest embedding of the runtime's libpython3.13.a, CPython's own command
 * line (adapters/python/tests/host-smoke.sh). The guest's main.c sets PyConfig instead. */
int Py_BytesMain(int argc, char **argv);

int main(int argc, char **argv)
{
	return Py_BytesMain(argc, argv);
}
