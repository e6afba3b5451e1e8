#include "core/thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <cstdlib>

namespace corenn {

namespace {

// How long an idle thread (a worker between jobs, the caller waiting for the last chunk) spins
// before it sleeps: 300 us, long enough to cover the Python between two kernels of one training
// step (a GradientTape loop's gaps are longer than fit's), so back-to-back kernels do not pay a
// futex wake-up each. The spin yields the core between polls, so on a core shared with another
// process that process runs instead. Measured on a 2-core Zen 4 (bench/busy_host.py,
// bench/tape_quick.py): 50 us without yield: MLP 2 threads / 1 thread 1.10 with a core busy, but
// the tape loop at 2 threads slower than at 1; 300 us without yield: busy 0.73; 300 us with
// yield: busy 0.96, quiet 1.94, tape loop 2 threads 1.4x faster than at 50 us.
// CORENN_SPIN_US overrides it (read once), for measuring the trade-off on a given machine.
std::chrono::microseconds spin_time() {
  static const std::chrono::microseconds t = [] {
    const char* env = std::getenv("CORENN_SPIN_US");
    char* end = nullptr;
    const long v = env ? std::strtol(env, &end, 10) : -1;
    return std::chrono::microseconds(env && end != env && *end == '\0' && v >= 0 && v <= 100000 ? v : 300);
  }();
  return t;
}

// The job ticket packs the job's generation (upper bits) and its unclaimed chunk count (lower
// kChunkBits). Claiming a chunk is one compare-and-swap on the ticket, which succeeds only while
// the generation is the one the worker saw: a late worker can never claim a chunk of a newer job
// by mistake, nor touch a finished job's state.
constexpr int kChunkBits = 24;
constexpr uint64_t kChunkMask = (uint64_t{1} << kChunkBits) - 1;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until pred() holds or kSpin has passed; returns pred().
template <class Pred>
bool spin_until(const Pred& pred) {
  const auto deadline = std::chrono::steady_clock::now() + spin_time();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    // Between polls, hand the core to any other runnable thread: on a shared core the other
    // process runs instead of this spin; on an idle core sched_yield returns at once.
    std::this_thread::yield();
  }
}

thread_local bool t_in_region = false;

struct RegionGuard {
  bool saved = t_in_region;
  RegionGuard() { t_in_region = true; }
  ~RegionGuard() { t_in_region = saved; }
};

struct Pool {
  std::mutex dispatch;  // held by the caller of the running job
  std::vector<std::thread> workers;

  // The current job; written by its caller before the ticket is published, read by a worker
  // only after it has claimed a chunk (so while the job cannot finish).
  std::atomic<uint64_t> ticket{0};
  std::atomic<int> job_threads{0};
  void (*body)(void*, int64_t) = nullptr;
  void* ctx = nullptr;
  int64_t chunks = 0;
  std::atomic<int64_t> done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::exception_ptr error;

  // Sleeping and waking.
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::atomic<int> sleepers{0};
  std::atomic<bool> caller_sleeping{false};
  std::atomic<bool> stop{false};

  void run_chunk(int64_t c) {
    if (!failed.load(std::memory_order_relaxed)) {
      try {
        body(ctx, c);
      } catch (...) {
        std::lock_guard<std::mutex> lk(error_mu);
        if (!error) error = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
      }
    }
    const int64_t total = chunks;  // read before `done` lets the caller return
    if (done.fetch_add(1) + 1 == total && caller_sleeping.load()) {
      std::lock_guard<std::mutex> lk(mu);
      done_cv.notify_one();
    }
  }

  // Claims and runs chunks of generation `gen` until none is left.
  void work(uint64_t gen) {
    uint64_t t = ticket.load(std::memory_order_acquire);
    for (;;) {
      if ((t >> kChunkBits) != gen || (t & kChunkMask) == 0) return;
      if (ticket.compare_exchange_weak(t, t - 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        run_chunk(static_cast<int64_t>(t & kChunkMask) - 1);
        t = ticket.load(std::memory_order_acquire);
      }
    }
  }

  void worker_main(int index, uint64_t seen) {
    t_in_region = true;
    for (;;) {
      auto fresh = [&] { return stop.load() || (ticket.load() >> kChunkBits) != seen; };
      if (!spin_until(fresh)) {
        sleepers.fetch_add(1);
        std::unique_lock<std::mutex> lk(mu);
        work_cv.wait(lk, fresh);
        sleepers.fetch_sub(1);
      }
      if (stop.load()) return;
      seen = ticket.load(std::memory_order_acquire) >> kChunkBits;
      if (index < job_threads.load(std::memory_order_relaxed)) work(seen);
    }
  }

  // Exactly `n` workers (called with `dispatch` held, so no job is running).
  void resize(int n) {
    if (static_cast<int>(workers.size()) == n) return;
    if (!workers.empty()) {
      {
        std::lock_guard<std::mutex> lk(mu);
        stop.store(true);
      }
      work_cv.notify_all();
      for (std::thread& w : workers) w.join();
      workers.clear();
      stop.store(false);
    }
    const uint64_t seen = ticket.load() >> kChunkBits;
    workers.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) workers.emplace_back([this, i, seen] { worker_main(i + 1, seen); });
  }

  void run(int64_t n_chunks, int threads, void (*fn)(void*, int64_t), void* fn_ctx) {
    body = fn;
    ctx = fn_ctx;
    chunks = n_chunks;
    done.store(0);
    failed.store(false);
    error = nullptr;
    job_threads.store(threads, std::memory_order_relaxed);
    const uint64_t gen = (ticket.load() >> kChunkBits) + 1;
    ticket.store((gen << kChunkBits) | static_cast<uint64_t>(n_chunks));
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> lk(mu);
      work_cv.notify_all();
    }
    work(gen);  // the caller works too
    auto finished = [&] { return done.load() == n_chunks; };
    if (!spin_until(finished)) {
      caller_sleeping.store(true);
      std::unique_lock<std::mutex> lk(mu);
      done_cv.wait(lk, finished);
      caller_sleeping.store(false);
    }
    if (error) {
      std::exception_ptr e = error;
      error = nullptr;
      std::rethrow_exception(e);
    }
  }
};

// Never destroyed: workers may still be asleep at process exit, and destroying a joinable
// std::thread would abort. A forked child has none of the parent's workers, so it starts a fresh
// pool (the parent's is left as it was, reachable from `g_abandoned`).
Pool* g_pool = nullptr;
std::vector<Pool*>* g_abandoned = nullptr;
std::once_flag g_pool_once;

void after_fork_in_child() {
  if (!g_pool) return;
  if (!g_abandoned) g_abandoned = new std::vector<Pool*>();
  g_abandoned->push_back(g_pool);
  g_pool = new Pool();
}

Pool& pool() {
  std::call_once(g_pool_once, [] {
    g_pool = new Pool();
    pthread_atfork(nullptr, nullptr, after_fork_in_child);
  });
  return *g_pool;
}

void run_inline(int64_t chunks, void (*body)(void*, int64_t), void* ctx) {
  RegionGuard guard;
  for (int64_t c = 0; c < chunks; ++c) body(ctx, c);
}

}  // namespace

bool in_parallel_region() { return t_in_region; }

namespace detail {

void pool_run(int64_t chunks, int threads, void (*body)(void* ctx, int64_t chunk), void* ctx) {
  if (chunks <= 0) return;
  if (threads <= 1 || chunks == 1 || t_in_region || chunks > static_cast<int64_t>(kChunkMask))
    return run_inline(chunks, body, ctx);
  Pool& p = pool();
  std::unique_lock<std::mutex> lk(p.dispatch, std::try_to_lock);
  if (!lk.owns_lock()) return run_inline(chunks, body, ctx);  // another thread's job is running
  p.resize(std::max(0, get_num_threads() - 1));
  RegionGuard guard;
  p.run(chunks, threads, body, ctx);
}

}  // namespace detail
}  // namespace corenn
