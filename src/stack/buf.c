/*
 * src/stack/buf.c - byte queues for TCP's send and receive buffers.
 *
 * A queue is one contiguous array with a moving head: appending grows it
 * geometrically, consuming advances the head and compacts only when the
 * dead prefix is larger than the live part, so every byte is moved O(1)
 * times on average.  TCP needs random access into the send queue (a
 * retransmission starts anywhere between snd_una and snd_nxt), which a
 * ring or a list of chunks would make clumsier for no gain at these sizes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stack/stack_internal.h"
#include "alloc.h"

size_t stk_bytes_len(const stk_bytes *q)
{
	return q->len - q->head;
}

int stk_bytes_reserve(stk_bytes *q, size_t n)
{
	if (n == 0)
		return 0;
	if (q->head > 0 && q->head >= q->len - q->head) {
		memmove(q->data, q->data + q->head, q->len - q->head);
		q->len -= q->head;
		q->head = 0;
	}
	if (q->len + n > q->cap) {
		size_t ncap = q->cap ? q->cap : 4096;
		while (ncap < q->len + n)
			ncap *= 2;
		uint8_t *d = st_realloc(q->data, ncap);
		if (!d)
			return -ENOMEM;
		q->data = d;
		q->cap = ncap;
	}
	return 0;
}

int stk_bytes_append(stk_bytes *q, const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	if (stk_bytes_reserve(q, n))
		return -ENOMEM;
	memcpy(q->data + q->len, p, n);
	q->len += n;
	return 0;
}

size_t stk_bytes_peek(const stk_bytes *q, size_t off, uint8_t *p, size_t n)
{
	size_t avail = stk_bytes_len(q);
	if (off >= avail)
		return 0;
	if (n > avail - off)
		n = avail - off;
	memcpy(p, q->data + q->head + off, n);
	return n;
}

void stk_bytes_drop(stk_bytes *q, size_t n)
{
	size_t avail = stk_bytes_len(q);
	if (n >= avail) {
		q->head = q->len = 0;
		return;
	}
	q->head += n;
}

void stk_bytes_free(stk_bytes *q)
{
	st_free(q->data);
	memset(q, 0, sizeof(*q));
}
