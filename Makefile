# The README's commands. `make test` installs what is missing, builds and runs every test;
# `make train` trains small-cnn on Fashion-MNIST. `make asan` runs the tests under sanitizers;
# `make fuzz` fuzzes every reader of untrusted files (clang, tests/fuzz/). The sanitizer
# build uses -g1 (line tables are all a sanitizer report needs; ~20% faster to compile than -g)
# and keeps -O2, whose FMA contraction the PyTorch reference checks are tuned with (decisions.md).
BUILD ?= build
JOBS ?= $(shell nproc)
GENERATOR := $(if $(shell command -v ninja),-G Ninja,)

.PHONY: deps build test train asan fuzz clean

deps:
	@bash tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Trains small-cnn on Fashion-MNIST (2 epochs, all cores) and ends with the test accuracy.
# Pass more flags with ARGS, e.g. make train ARGS="--epochs 5 --plot curves.svg".
train: build
	./$(BUILD)/wick train $(ARGS)

asan: deps
	cmake -S . -B build-asan $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DWICK_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && WICK_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# Builds the libFuzzer targets with clang (tests/fuzz/, docs/fuzzing.md) and runs each for
# FUZZ_SECONDS from the committed corpus; a crash fails.
FUZZ_SECONDS ?= 60
fuzz: deps
	bash tools/fuzz.sh $(FUZZ_SECONDS) build-fuzz

clean:
	rm -rf $(BUILD) build-asan build-fuzz
