// The process group over MPI (a duplicate of MPI_COMM_WORLD, so a program's own MPI traffic never
// meets wick's), or the world of one process when wick is built without MPI or not run by mpirun.
#include "core/distributed.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

#ifdef WICK_HAVE_MPI
#include <mpi.h>
#endif

namespace wick::dist {
namespace {

bool initialized = false;
int my_rank = 0, my_size = 1;

}  // namespace

bool launched_by_mpi() {
  // Open MPI's mpirun, and the PMI/PMIx launchers of MPICH, Slurm and others.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

bool is_initialized() { return initialized; }
int rank() { return my_rank; }
int world_size() { return my_size; }

#ifdef WICK_HAVE_MPI

namespace {

MPI_Comm comm = MPI_COMM_NULL;
bool started_mpi = false;  // init() called MPI_Init (so finalize() ends it)

// MPI counts are int: a longer buffer goes in pieces.
constexpr int64_t kMaxCount = INT_MAX / 2;

template <typename F>
void in_pieces(int64_t n, F f) {
  for (int64_t at = 0; at < n; at += kMaxCount) f(at, static_cast<int>(std::min(kMaxCount, n - at)));
}

}  // namespace

bool built_with_mpi() { return true; }

void init() {
  if (initialized) return;
  if (launched_by_mpi()) {
    int already = 0;
    MPI_Initialized(&already);
    if (!already) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      started_mpi = true;
      WICK_CHECK(provided >= MPI_THREAD_FUNNELED, "dist::init: MPI gives thread level ", provided,
                 ", wick needs MPI_THREAD_FUNNELED");
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    MPI_Comm_rank(comm, &my_rank);
    MPI_Comm_size(comm, &my_size);
  }
  initialized = true;
}

void finalize() {
  if (!initialized) return;
  if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  if (started_mpi) MPI_Finalize();
  initialized = started_mpi = false;
  my_rank = 0;
  my_size = 1;
}

void abort_job(int code) {
  if (comm != MPI_COMM_NULL) MPI_Abort(comm, code);
  std::exit(code);
}

void all_reduce_sum(float* data, int64_t n) {
  if (my_size == 1) return;
  in_pieces(n, [&](int64_t at, int count) { MPI_Allreduce(MPI_IN_PLACE, data + at, count, MPI_FLOAT, MPI_SUM, comm); });
}

void all_gather(const double* in, int64_t n, double* out) {
  if (my_size == 1) {
    std::memcpy(out, in, static_cast<size_t>(n) * sizeof(double));
    return;
  }
  WICK_CHECK(n <= kMaxCount, "dist::all_gather: ", n, " values are more than one call can gather");
  MPI_Allgather(in, static_cast<int>(n), MPI_DOUBLE, out, static_cast<int>(n), MPI_DOUBLE, comm);
}

void broadcast(float* data, int64_t n, int root) {
  if (my_size == 1) return;
  in_pieces(n, [&](int64_t at, int count) { MPI_Bcast(data + at, count, MPI_FLOAT, root, comm); });
}

void broadcast(int64_t* data, int64_t n, int root) {
  if (my_size == 1) return;
  in_pieces(n, [&](int64_t at, int count) { MPI_Bcast(data + at, count, MPI_INT64_T, root, comm); });
}

void min_max(int64_t value, int64_t& min, int64_t& max) {
  min = max = value;
  if (my_size == 1) return;
  MPI_Allreduce(&value, &min, 1, MPI_INT64_T, MPI_MIN, comm);
  MPI_Allreduce(&value, &max, 1, MPI_INT64_T, MPI_MAX, comm);
}

struct PendingSum::State {
  MPI_Request request = MPI_REQUEST_NULL;
};

PendingSum::PendingSum(float* data, int64_t n) : state_(std::make_unique<State>()) {
  if (my_size == 1) return;
  WICK_CHECK(n <= kMaxCount, "dist::PendingSum: ", n, " values are more than one call can sum");
  MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, comm, &state_->request);
}

bool PendingSum::test() {
  if (state_->request == MPI_REQUEST_NULL) return true;
  int done = 0;
  MPI_Test(&state_->request, &done, MPI_STATUS_IGNORE);
  return done != 0;
}

void PendingSum::wait() {
  if (state_->request != MPI_REQUEST_NULL) MPI_Wait(&state_->request, MPI_STATUS_IGNORE);
}

#else  // without MPI: the world is this process

bool built_with_mpi() { return false; }

void init() {
  WICK_CHECK(!launched_by_mpi(), "this wick was built without MPI, so it cannot join an mpirun job; "
                                 "install libopenmpi-dev and rebuild");
  initialized = true;
}

void finalize() { initialized = false; }
[[noreturn]] void abort_job(int code) { std::exit(code); }
void all_reduce_sum(float*, int64_t) {}
void all_gather(const double* in, int64_t n, double* out) { std::memcpy(out, in, static_cast<size_t>(n) * sizeof(double)); }
void broadcast(float*, int64_t, int) {}
void broadcast(int64_t*, int64_t, int) {}
void min_max(int64_t value, int64_t& min, int64_t& max) { min = max = value; }

struct PendingSum::State {};
PendingSum::PendingSum(float*, int64_t) {}
bool PendingSum::test() { return true; }
void PendingSum::wait() {}

#endif

PendingSum::~PendingSum() { wait(); }

}  // namespace wick::dist
