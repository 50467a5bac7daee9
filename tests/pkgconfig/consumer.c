/*
 * consumer.c - a program outside the tree that uses an *installed* socktab,
 * built only with what `pkg-config --cflags --libs socktab` says.  The
 * install_pkgconfig test compiles and runs it; it fails (non-zero exit) if
 * the header and the library it links disagree, or if the basic calls do
 * not work.
 */
#include <socktab/socktab.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
	st_net *net = NULL;
	st_addr a;
	int family = -1;
	int rc;

	if (strcmp(st_version(), SOCKTAB_VERSION_STRING) != 0) {
		fprintf(stderr, "header says %s, library says %s\n",
			SOCKTAB_VERSION_STRING, st_version());
		return 1;
	}

	rc = st_net_new(&net, 42, NULL);
	if (rc != 0 || net == NULL) {
		fprintf(stderr, "st_net_new: %d\n", rc);
		return 1;
	}

	rc = st_addr_parse("127.0.0.1", &a, &family);
	if (rc != 0 || family != ST_AF_INET || st_addr_get_v4(&a) != 0x7f000001u) {
		fprintf(stderr, "st_addr_parse(127.0.0.1): rc=%d family=%d\n", rc, family);
		st_net_free(net);
		return 1;
	}
	rc = st_addr_parse("::1", &a, &family);
	if (rc != 0 || family != ST_AF_INET6 || !st_addr_is_loopback(&a)) {
		fprintf(stderr, "st_addr_parse(::1): rc=%d family=%d\n", rc, family);
		st_net_free(net);
		return 1;
	}

	st_net_free(net);
	printf("socktab %s: consumer OK\n", st_version());
	return 0;
}
