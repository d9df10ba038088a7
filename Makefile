# Two commands for a fresh Debian 12 machine: `make run` and `make test`.
BUILD      ?= build
BUILD_ASAN ?= build-asan
DATA_DIR   ?= ./mlforge-data
PORT       ?= 5000
JOBS       ?= $(shell nproc)

.PHONY: all deps configure build run test check-asan bench format tidy clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

configure: $(BUILD)/build.ninja

build: deps configure
	@ninja -C $(BUILD) -j $(JOBS)

# Starts the server on its embedded default: SQLite + local blobs under $(DATA_DIR).
run: build
	$(BUILD)/app/mlforge server --data-dir $(DATA_DIR) --port $(PORT)

# Every test, on SQLite and on a PostgreSQL server started for the run; then
# the same tests again in an ASan+UBSan build.
test: build
	@scripts/run-tests.sh $(BUILD)
	@$(MAKE) --no-print-directory check-asan

# Unit and integration tests under ASan+UBSan.
check-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMLFORGE_SANITIZE=ON -DMLFORGE_BUILD_BENCH=OFF -DMLFORGE_BUILD_UI=OFF >/dev/null
	@ninja -C $(BUILD_ASAN) -j $(JOBS)
	@scripts/run-tests.sh $(BUILD_ASAN)

bench: build
	@scripts/run-bench.sh $(BUILD)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

tidy: configure
	@git ls-files 'src/*.cc' 'app/*.cc' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
