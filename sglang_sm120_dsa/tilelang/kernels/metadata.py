"""Paged schedule metadata in TileLang: the foundation's algorithm (``reference/metadata.py``) with this family's
split size and one atom per slot (a request's rows, or one varlen token: the paged kernel's blocks).

One block: slots are taken ``THREADS`` at a time; each thread computes its slot's task count
``ceil(max(L, 0) / split_kv)`` into shared memory, a block-wide scan gives the running end of every slot, and each
thread binary-searches the scan for the schedule rows it owns (``s = tid, tid + THREADS, ..``): row ``s`` is the
``(slot, split)`` where range ``s`` of ``total`` tasks cut into ``num_sms`` ranges starts (the last
``total % num_sms`` ranges one task longer), the sentinel ``(batch, 0)`` where no task is left.
"""

# No `from __future__ import annotations`: TileLang evaluates the T.Tensor annotations when it parses the kernel.
import tilelang.language as T

from ..._checks import MAX_NEXT_N


def _slot_tasks(lens, b, batch, cols, split_kv):
    """Tasks of slot ``b``: ``ceil(max(L, 0) / split_kv)`` with ``L`` its row's largest length (0 past the batch)."""
    bc = T.min(b, batch - 1)
    length = lens[bc * cols]
    for j in range(1, MAX_NEXT_N):  # indices clamped to the row: repeats do not change the maximum
        length = T.max(length, lens[bc * cols + T.min(j, cols - 1)])
    return T.if_then_else(b < batch, T.ceildiv(T.max(length, 0), split_kv), 0)


def metadata_kernel(THREADS: int):
    lens_len = T.dynamic("lens_len")
    meta_len = T.dynamic("meta_len")

    @T.prim_func
    def metadata(Lens: T.Tensor([lens_len], "int32"), Meta: T.Tensor([meta_len], "int32"), batch: T.int32,
                 cols: T.int32, num_sms: T.int32, split_kv: T.int32):
        with T.Kernel(1, threads=THREADS):
            tid = T.get_thread_binding()
            segs_s = T.alloc_shared([THREADS], "int32")
            cum_s = T.alloc_shared([THREADS], "int32")
            total = T.alloc_local([1], "int32")
            running = T.alloc_local([1], "int32")
            lo = T.alloc_local([1], "int32")
            hi = T.alloc_local([1], "int32")

            total[0] = 0
            for c in T.serial(T.ceildiv(batch, THREADS)):
                total[0] += _slot_tasks(Lens, c * THREADS + tid, batch, cols, split_kv)
            segs_s[tid] = total[0]
            T.sync_threads()
            T.cumsum(segs_s, cum_s)
            T.sync_threads()
            total[0] = cum_s[THREADS - 1]
            T.sync_threads()
            per_sm = total[0] // num_sms
            pivot = num_sms - total[0] % num_sms
            for k in T.serial(T.ceildiv(num_sms + 1, THREADS)):  # sentinel first; found rows overwrite it
                if k * THREADS + tid <= num_sms:
                    Meta[2 * (k * THREADS + tid)] = batch
                    Meta[2 * (k * THREADS + tid) + 1] = 0
            running[0] = 0
            for c in T.serial(T.ceildiv(batch, THREADS)):
                segs_s[tid] = _slot_tasks(Lens, c * THREADS + tid, batch, cols, split_kv)
                T.sync_threads()
                T.cumsum(segs_s, cum_s)
                T.sync_threads()
                for k in T.serial(T.ceildiv(num_sms + 1, THREADS)):
                    sm = k * THREADS + tid
                    start = sm * per_sm + T.max(sm - pivot, 0)
                    if sm <= num_sms and start >= running[0] and start < running[0] + cum_s[THREADS - 1]:
                        lo[0] = 0  # the first slot of the chunk whose tasks end after `start`
                        hi[0] = THREADS - 1
                        for _ in T.serial(THREADS.bit_length()):
                            if lo[0] < hi[0]:
                                if running[0] + cum_s[(lo[0] + hi[0]) // 2] > start:
                                    hi[0] = (lo[0] + hi[0]) // 2
                                else:
                                    lo[0] = (lo[0] + hi[0]) // 2 + 1
                        Meta[2 * sm] = c * THREADS + lo[0]
                        Meta[2 * sm + 1] = start - (running[0] + cum_s[lo[0]] - segs_s[lo[0]])
                running[0] += cum_s[THREADS - 1]
                T.sync_threads()

    return metadata
