/*
 * src/scenario/model.h - the model backend (model.c): scenarios run on the
 * simulated world, over the stack and the core tables.
 */
#ifndef SOCKTAB_SCENARIO_MODEL_H
#define SOCKTAB_SCENARIO_MODEL_H

#include <stddef.h>

#include "scenario/backend.h"
#include "socktab/net.h"

/* NULL with a message when the world cannot be created (or --pcap cannot
 * be written).  The world starts with host `local`. */
sc_backend *sc_model_new(const sc_backend_config *cfg, char *msg, size_t msglen);

/* The tables of a host of a model backend (for tests that check their
 * invariants with st_net_check), or NULL when there is no such host. */
st_net *sc_model_host_net(sc_backend *b, const char *host);

/* Port steering for `socktab diff` (diff.h): before a call by process p
 * on descriptor fd, the port Linux chose for the same call; the model
 * takes it for its own automatic choice if Linux's algorithm could have
 * made it.  After the call, _done says what became of it: 0 the call
 * chose no port, 1 taken, -1 refused (*why says why), and forgets it. */
void sc_model_port_hint(sc_backend *b, int p, int fd, uint16_t port);
int sc_model_port_hint_done(sc_backend *b, const char **why);

/* st_sockaddr -> sc_sockaddr, naming the scope by its device in `net`. */
void sc_sockaddr_from_net(st_net *net, const st_sockaddr *sa, sc_sockaddr *out);

#endif
