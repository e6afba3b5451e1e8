// A persistent thread pool in which the calling thread works too and work is claimed in chunks.
//
// Why not OpenMP's fork-join: a `#pragma omp parallel` hands each thread one fixed share and then
// waits at a barrier for all of them. On a machine where another process holds a core, the thread
// the OS has not scheduled holds its whole share, and every kernel call waits a time slice for it
// (measured: 2 threads with one core busy ran 2.4x slower than 1 thread). Here a job is a count of
// chunks and every participant (the caller first) claims the next unclaimed chunk with one atomic
// operation, so a descheduled worker costs at most the one chunk it holds; a worker that has not
// woken up yet holds nothing and the caller simply does its chunks.
//
// Workers are created lazily on the first parallel job (and re-created when the thread count
// changes); after a job they spin for a few tens of microseconds (the gap between two kernels of
// one training step) and then sleep on a condition variable, so an idle process burns no CPU.
//
// Rules: a job started from inside a job (nested parallel_for) runs inline on the calling thread;
// so does a job started while another thread's job is running (two Python threads calling kernels
// at once share nothing and never wait for each other). An exception thrown by a chunk is caught,
// the chunks not yet started are skipped, and the first exception is rethrown on the caller.
#pragma once

#include <cstdint>

namespace corenn {

// True on a pool worker, and on a caller while it runs a job: parallel work started there runs
// inline.
bool in_parallel_region();

namespace detail {

// Runs body(ctx, c) for every chunk c in [0, chunks) on up to `threads` threads (the caller
// included) and returns when all have finished. Chunks are claimed in an unspecified order by
// unspecified threads: a body must write only to chunk-indexed state.
void pool_run(int64_t chunks, int threads, void (*body)(void* ctx, int64_t chunk), void* ctx);

}  // namespace detail
}  // namespace corenn
