# `make lambda`: the analyzer as an AWS Lambda package for the provided.al2023 runtime (included by the Makefile).
#
# The analyzer's objects are linked again with --as-needed (only the libraries it really calls end up as NEEDED)
# and RUNPATH $ORIGIN/lib, then infra/make-lambda-package.sh zips `bootstrap` with every shared library the runtime
# image lacks, and infra/check-lambda-package.sh refuses the zip if anything is missing or needs a glibc newer than
# the image's 2.34. A fully static build is not possible with Debian's libcurl (its dependencies ship no static
# archives), hence the bundled libraries. Result: $(LAMBDA_ZIP); infra/deploy.sh uploads it.

LAMBDA_DIR       := $(BUILD)/lambda
LAMBDA_BOOTSTRAP := $(LAMBDA_DIR)/bootstrap
LAMBDA_ZIP       := $(LAMBDA_DIR)/lurker-analyzer-lambda.zip

.PHONY: lambda
lambda: $(LAMBDA_ZIP)

$(LAMBDA_BOOTSTRAP): $(BUILD)/analyzer/main.o $(BUILD)/libanalyzer.a $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--as-needed -Wl,-rpath,'$$ORIGIN/lib' -o $@ $^ $(LDLIBS)

$(LAMBDA_ZIP): $(LAMBDA_BOOTSTRAP) infra/make-lambda-package.sh infra/check-lambda-package.sh
	infra/make-lambda-package.sh $(LAMBDA_BOOTSTRAP) $@.tmp
	infra/check-lambda-package.sh $@.tmp
	mv $@.tmp $@

# `make lambda-arm64`: the same package for arm64 Lambdas (20% cheaper), cross-built on an x86_64 Debian host with
# multiarch (`dpkg --add-architecture arm64`; crossbuild-essential-arm64 and the :arm64 -dev packages, see
# .ci/packages.d/lambda-arm64). Objects in build-arm64/, result build-arm64/lambda/lurker-analyzer-lambda.zip.
ARM64_TRIPLET := aarch64-linux-gnu

.PHONY: lambda-arm64
lambda-arm64:
	PKG_CONFIG_LIBDIR=/usr/lib/$(ARM64_TRIPLET)/pkgconfig:/usr/share/pkgconfig \
	    $(MAKE) BUILD=build-arm64 BIN=bin-arm64 CC=$(ARM64_TRIPLET)-gcc SAN=0 lambda
