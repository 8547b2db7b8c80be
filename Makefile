# pregon: plain Makefile with pkg-config. See README.md.
#
#   make            build build/pregond and build/pregon
#   make deps       install Debian packages (idempotent; needs root or sudo)
#   make run        deps-run (only what running needs), build, start a local Redis if needed, show a job flow
#   make test       deps, build (normal and ASan+UBSan), run every test
#   make test-long  the long soak runs
#   make fuzz       build the libFuzzer targets (clang)
#   make bench      run bench/run.sh
#   make review     write config/templates/REVIEW.md, the texts with their
#                   back-translations, for bilingual staff to check
#   make install  build, then install under DESTDIR/PREFIX (default /usr/local):
#                 README.md "Installing". NOBUILD=1 only copies what BUILD holds.
#   make clean

# libmosquitto: MQTT; libssl: SSL_is_init_finished, to finish the MQTT TLS
# handshake before the loop takes the socket (src/net/mqtt_conn.c).
# libsignal-protocol-c: [signal] provider native (adapters/signal_native/).
PKGS      := libuv hiredis jansson inih libical libcurl libcrypto libmosquitto libssl \
             libsignal-protocol-c
TEST_PKGS := cmocka

BUILD     ?= build
# make install: PREFIX/bin, PREFIX/share/pregon, the units (pregond.service and
# the template pregond@.service) in SYSTEMD_UNITDIR,
# a first config in SYSCONFDIR/pregon (never overwritten); all under DESTDIR.
# systemd searches /usr/local/lib/systemd/system and /usr/local/lib/sysusers.d.
PREFIX    ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMD_UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DESTDIR   ?=
BINDIR    := $(PREFIX)/bin
DATADIR   := $(PREFIX)/share/pregon
DOCDIR    := $(PREFIX)/share/doc/pregon
SAN       ?=
CC        ?= cc
OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation \
             -Iinclude -I$(BUILD)/gen $(SAN) $(CFLAGS) $(shell pkg-config --cflags $(PKGS)) \
             -DPREGON_DATADIR='"$(PREFIX)/share/pregon"' -DPREGON_SYSCONFDIR='"$(SYSCONFDIR)"'
LDLIBS     = $(shell pkg-config --libs $(PKGS)) -lhttp_parser -lm
LDFLAGS   += $(SAN)

# Every .c under src/ and adapters/ but the two programs' mains.
LIB_SRCS  := $(filter-out src/pregond.c src/cli/pregon.c,$(sort $(shell find src adapters -name '*.c')))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS)) $(BUILD)/gen/lua_lib.o $(BUILD)/gen/openapi.o $(BUILD)/gen/web.o
LUA_SRCS  := $(sort $(wildcard src/lua/*.lua))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all deps deps-run run test test-long asan fuzz bench clean unit install review
all: $(BUILD)/pregond $(BUILD)/pregon

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The Redis Functions library: src/lua/*.lua joined in src/lua/LIBRARY's
# order, with the positions of every argument and reply in lua_lib.h.
$(BUILD)/gen/lua_lib.c $(BUILD)/gen/lua_lib.h &: $(LUA_SRCS) src/lua/LIBRARY tools/lua_lib.py
	@mkdir -p $(dir $@)
	/usr/bin/python3 tools/lua_lib.py $(BUILD)/gen $(addprefix src/lua/,$(shell cat src/lua/LIBRARY))

$(BUILD)/gen/lua_lib.o: $(BUILD)/gen/lua_lib.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The API's OpenAPI document, kept in YAML, served as JSON (api.c).
$(BUILD)/gen/openapi.c: docs/openapi.yaml tools/openapi_embed.py
	@mkdir -p $(dir $@)
	/usr/bin/python3 tools/openapi_embed.py docs/openapi.yaml $@

$(BUILD)/gen/openapi.o: $(BUILD)/gen/openapi.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The dashboard's files, embedded the same way (src/api/web.c).
WEB_FILES := $(sort $(wildcard web/*.html web/*.js web/*.css web/*.svg))
$(BUILD)/gen/web.c: $(WEB_FILES) tools/web_embed.py
	@mkdir -p $(dir $@)
	/usr/bin/python3 tools/web_embed.py $@ $(WEB_FILES)

$(BUILD)/gen/web.o: $(BUILD)/gen/web.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Every object may include the generated header.
$(filter-out $(BUILD)/gen/%,$(LIB_OBJS)) $(BUILD)/src/pregond.o $(BUILD)/src/cli/pregon.o: $(BUILD)/gen/lua_lib.h

$(BUILD)/libpregon.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/pregond: $(BUILD)/src/pregond.o $(BUILD)/libpregon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/pregon: $(BUILD)/src/cli/pregon.o $(BUILD)/libpregon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpregon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags $(TEST_PKGS)) -MMD -MP -o $@ $< \
		$(BUILD)/libpregon.a $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs $(TEST_PKGS))

# Test programs that are not unit tests (the native Signal transport's
# test recipient, tests/tools/signal_recipient.c), built with them.
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))

$(BUILD)/tests/tools/%: tests/tools/%.c $(BUILD)/libpregon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libpregon.a $(LDFLAGS) $(LDLIBS)

unit: $(UNIT_BINS) $(TOOL_BINS)

$(BUILD)/template-review: tools/template_review.c $(BUILD)/libpregon.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libpregon.a $(LDFLAGS) $(LDLIBS)

# The review sheet is generated (src/text/review.c); test_review.c fails
# while the file differs from what the templates make. Written through a
# temporary file, so that a failure leaves the old sheet whole.
review: $(BUILD)/template-review
	$(BUILD)/template-review config/templates > config/templates/REVIEW.md.tmp
	mv config/templates/REVIEW.md.tmp config/templates/REVIEW.md

deps:
	@sh ops/install-deps.sh test

# What running needs, without the test packages (cmocka, mosquitto, the
# Python clients): make run on a machine that will never run the tests.
deps-run:
	@sh ops/install-deps.sh run

# The sanitizer build lives beside the normal one so both can be kept.
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all unit

run: deps-run
	$(MAKE) all
	@sh ops/run-demo.sh

test: deps
	$(MAKE) all unit
	$(MAKE) asan
	@sh tests/run.sh

test-long: deps
	$(MAKE) all asan
	@LONG=1 sh tests/run.sh

fuzz:
	$(MAKE) -C tests/fuzz

bench: deps
	$(MAKE) all
	@bash bench/run.sh

# The templates folder is replaced whole, so that a template removed from
# the project does not linger; keep your own templates elsewhere and name
# them in [templates] dir. The config is installed only when none exists.
# NOBUILD=1 installs what BUILD already holds, building nothing: the
# install test uses it on build-asan, which a rebuild with this make's
# default flags would spoil.
install: $(if $(NOBUILD),,all)
	@test -x $(BUILD)/pregond -a -x $(BUILD)/pregon || { echo "make install: $(BUILD)/pregond or $(BUILD)/pregon is missing: run make first" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/pregon
	install -m 755 $(BUILD)/pregond $(BUILD)/pregon $(DESTDIR)$(BINDIR)/
	rm -rf $(DESTDIR)$(DATADIR)/templates
	cp -R config/templates $(DESTDIR)$(DATADIR)/templates
	chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/templates
	install -m 644 config/pregon.conf $(DESTDIR)$(DOCDIR)/pregon.conf.example
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 644 docs/jobs.md $(DESTDIR)$(DOCDIR)/docs/jobs.md
	install -D -m 644 docs/design.md $(DESTDIR)$(DOCDIR)/docs/design.md
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/pregon/pregon.conf ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/pregon/pregon.conf (the new example is $(DESTDIR)$(DOCDIR)/pregon.conf.example)"; \
	else \
		echo "install -m 644 config/pregon.conf $(DESTDIR)$(SYSCONFDIR)/pregon/pregon.conf"; \
		install -m 644 config/pregon.conf $(DESTDIR)$(SYSCONFDIR)/pregon/pregon.conf; \
	fi
	for unit in pregond.service pregond@.service; do \
		sed -e 's|/usr/local|$(PREFIX)|g' -e 's|/etc/pregon|$(SYSCONFDIR)/pregon|g' \
			ops/$$unit > $(DESTDIR)$(SYSTEMD_UNITDIR)/$$unit && \
		chmod 644 $(DESTDIR)$(SYSTEMD_UNITDIR)/$$unit || exit 1; \
	done
	install -m 644 ops/pregon.sysusers $(DESTDIR)$(SYSUSERSDIR)/pregon.conf
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
		echo "systemd-sysusers $(SYSUSERSDIR)/pregon.conf"; \
		systemd-sysusers $(SYSUSERSDIR)/pregon.conf; \
	fi

clean:
	rm -rf build build-asan var/run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
