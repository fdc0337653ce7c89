// The process group of data-parallel training: rank, world size and the few collectives wick
// uses, over MPI. This file alone includes mpi.h. Only the thread that called init() talks to
// MPI (MPI_THREAD_FUNNELED), and every process must issue the same collectives in the same order,
// as MPI requires. Without MPI (wick built without Open MPI, or a process not started by mpirun)
// the world is this one process and every collective is the identity on its data.
#pragma once
#include <cstdint>
#include <memory>

namespace wick::dist {

// Whether this wick was built with MPI.
bool built_with_mpi();
// Whether this process was started by mpirun (or another MPI launcher), from its environment.
bool launched_by_mpi();

// Joins the process group when launched_by_mpi() (MPI_Init_thread); otherwise the world is this
// process alone. Idempotent. Throws wick::Error when launched by mpirun but built without MPI.
void init();
// Leaves the process group (MPI_Finalize); a no-op when init() did not start MPI.
void finalize();
bool is_initialized();

int rank();        // 0 .. world_size() - 1; 0 before init()
int world_size();  // 1 before init() and without MPI
inline bool is_distributed() { return world_size() > 1; }

// Ends every process of the job at once (MPI_Abort) with `code`: what a process that failed
// must do, since the others would otherwise wait for it forever in their next collective. Without
// MPI: std::exit(code).
[[noreturn]] void abort_job(int code);

// Sums `data` (n floats) over the processes, in place, on every process. The same processes and
// sizes sum in the same order run after run (MPI's algorithm is fixed by them), and every
// process gets the same bits.
void all_reduce_sum(float* data, int64_t n);
// Gathers n doubles from every process into out (world_size() * n), in rank order.
void all_gather(const double* in, int64_t n, double* out);
// Copies rank `root`'s n values to every process (float, int64).
void broadcast(float* data, int64_t n, int root = 0);
void broadcast(int64_t* data, int64_t n, int root = 0);
// The minimum and maximum of one value over the processes (e.g. to check they agree).
void min_max(int64_t value, int64_t& min, int64_t& max);

// A sum started now whose result is in `data` once wait() returns (MPI_Iallreduce). The data
// must stay alive and untouched until then. MPI moves it only inside MPI calls, so progress()
// between computations lets it advance while the caller works.
class PendingSum {
 public:
  PendingSum(float* data, int64_t n);
  ~PendingSum();  // waits
  PendingSum(const PendingSum&) = delete;
  PendingSum& operator=(const PendingSum&) = delete;
  bool test();  // true once complete; advances it
  void wait();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wick::dist
