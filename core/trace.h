// Tracing: while a Tracer is installed on a thread, the ops an exporter can translate report each
// call there (name, inputs, result, attributes), so a forward pass, containers and a user's own
// forward alike, can be recorded as a graph (the ONNX exporter, layers/onnx/export.h). When no
// Tracer is installed an op pays one thread-local test.
#pragma once
#include <string>
#include <vector>

#include "tensor.h"

namespace wick::trace {

// An attribute of a traced op: integers (strides, a shape), or one real number (eps).
struct Attr {
  const char* name;
  std::vector<int64_t> ints;
  double real = 0;
};

struct Op {
  const char* name;            // the op ("conv2d", "batch_norm", "reshape", ...)
  std::vector<Tensor> inputs;  // in the op's order; an optional input not given is undefined
  Tensor out;
  std::vector<Attr> attrs;
  std::string path;  // the dotted path of the container child it ran in ("" at the top level)
};

class Tracer {
 public:
  virtual ~Tracer() = default;
  // Called after each traced op computed its result; may throw wick::Error to refuse it.
  virtual void record(Op op) = 0;
  // Called for every op that records an autograd node, traced or not, with where it ran: so a
  // tracer can say where an op it has no translation for was used.
  virtual void node(const char* name, const Tensor& out, const std::string& path) = 0;
};

// The tracer of this thread, or null.
Tracer* active();

// Installs a tracer on this thread while alive (not nestable: a second one is an error).
class Scope {
 public:
  explicit Scope(Tracer& tracer);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};

// While alive, ops are traced as inside the child `name` of the enclosing one (nn::forward_child
// opens one per child it runs). Costs one test when no tracer is installed.
class Child {
 public:
  explicit Child(const std::string& name);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

 private:
  bool pushed_ = false;
};

// What autograd's record() calls for each node it makes.
void node(const char* name, const Tensor& out);

// What an op calls after computing `out`: `if (trace::active()) trace::op(...)`.
void op(const char* name, const Tensor& out, std::vector<Tensor> inputs, std::vector<Attr> attrs = {});

}  // namespace wick::trace
