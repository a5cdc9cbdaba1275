/* Crashes the way the window's victims do: a jump to address 0 (the crash watch test). Waits for
 * a line on stdin first, so the test can start watching. */
#include <stdio.h>

int main(void)
{
	char line[8];
	void (*volatile nowhere)(void) = 0;

	puts("ready");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	nowhere();
	return 0;
}
