# The verbs users type. Each recipe is a line or two; the work lives in scripts/ and in `pola`.
# models.tsv is the one list of models: the plain ones, and their encrypted twins (twin_of set).
MODELS := $(shell awk '!/^\#/ && NF && $$2 == "-" {print $$1}' models.tsv)
VARIANTS := $(shell awk '!/^\#/ && NF && $$2 != "-" {print $$1}' models.tsv)
.PHONY: setup setup-up build build-roles test test-build test-unit test-captures test-faults images up down capture faults faults-list report bench bench-quick profile wireshark live

setup:            ## install what pola needs on a fresh Debian machine (apt, Compose v2, Rust crates)
	bash scripts/setup.sh

setup-up:         ## install only what make up needs (no test peers, no tshark, no Chromium)
	bash scripts/setup.sh up

build:            ## release binaries of every role and of `pola`
	cargo build --release --workspace --bins

build-roles:      ## what the images hold: every role and the capture sidecar, not `pola`
	cargo build --release --workspace --bins --exclude pola --exclude pola-compose-tests

test: setup-up     ## everything CI runs (installs what is missing first)
	@# The test peers (tshark, Mosquitto, Chromium...) install while the tests compile.
	$(MAKE) --no-print-directory -j2 setup test-build
	$(MAKE) --no-print-directory test-unit test-captures test-faults bench-quick

test-build:       ## compile every test binary without running it
	cargo test --release --workspace --no-run

test-unit:        ## every model on loopback, the bad-input table, the pcap decoders (four test binaries at a time); one feature set for every build
	bash scripts/test-unit.sh
	bash scripts/check-features.sh

test-captures: build images   ## every model in compose, every pcap checked with tshark; pola and the Lua dissector agree with tshark
	bash scripts/test-captures.sh
	bash wireshark/check.sh
	./target/release/pola report

test-faults: images   ## every fault scenario in compose, judged by its clients' lines and by tshark
	bash scripts/test-faults.sh

images: build-roles   ## build every image offline and print its size
	bash scripts/images.sh

up: setup-up build-roles   ## run every model once in compose; six pcaps land in captures/, pola's report beside them
	bash scripts/up.sh

down:             ## stop and remove every container and network of pola
	bash scripts/capture.sh down

capture: images   ## capture every model, one after another
	bash scripts/capture.sh $(MODELS)

capture-%:        ## capture one model: make capture-mqtt (or tcp, rest, reqrep, pushpull, pubsub, mqtt-tls, rest-tls, reqrep-curve, pubsub-curve)
	@case " $(MODELS) $(VARIANTS) " in *" $* "*) ;; *) echo "unknown model '$*': valid models are $(MODELS) $(VARIANTS)" >&2; exit 2;; esac
	@case " $(VARIANTS) " in *" $* "*) $(MAKE) --no-print-directory setup build;; esac   # editcap and pola's keys
	@$(MAKE) --no-print-directory images
	bash scripts/capture.sh $*

fault-%:          ## one fault scenario of scripts/faults.tsv: make fault-tcp-lossy (make faults-list shows them)
	@bash scripts/fault.sh list | awk '{print $$1}' | grep -qx -- '$*' || { echo "unknown fault scenario '$*': valid scenarios are $$(bash scripts/fault.sh list | awk '{print $$1}' | xargs)" >&2; exit 2; }
	@$(MAKE) --no-print-directory images
	bash scripts/fault.sh $*

load-%:           ## a load run of one fault scenario: its clients streaming for SECS seconds (60), the fault in the middle, servers' RSS each second (bench/faults.json)
	@bash scripts/fault.sh list | awk '{print $$1}' | grep -qx -- '$*' || { echo "unknown fault scenario '$*': valid scenarios are $$(bash scripts/fault.sh list | awk '{print $$1}' | xargs)" >&2; exit 2; }
	@$(MAKE) --no-print-directory images
	bash scripts/fault.sh load $(or $(SECS),60) $*

faults: images    ## every fault scenario, one after another; pcaps in captures/fault-<name>.pcap
	bash scripts/fault.sh all

faults-list:      ## the fault scenarios: name, model, what the model promises
	@bash scripts/fault.sh list

report: build     ## summarise every capture in captures/ (HTML and Markdown)
	./target/release/pola report

bench: build      ## every model against the floor and its peer
	./target/release/pola bench

bench-quick: build
	./target/release/pola bench --quick

profile:          ## flame graphs of PUSH/PULL, PUB/SUB (4 subscribers) and REST in bench/flamegraphs/ (needs perf and inferno)
	bash bench/profile.sh

wireshark:        ## open a capture with the ZMTP dissector: make wireshark MODEL=pubsub
	bash wireshark/open.sh $(MODEL)

live: build images   ## run one model and watch its packets as they are captured: make live MODEL=pubsub
	@case " $(MODELS) " in *" $(MODEL) "*) ;; *) echo "usage: make live MODEL=<model>, one of $(MODELS)" >&2; exit 2;; esac
	bash scripts/live.sh $(MODEL)
