# Which libfuse ckptfs builds against; defines the target ckptfs_libfuse and
# CKPTFS_LIBFUSE_VERSION.
#
# FUSE passthrough (reads served by the kernel straight from the source
# shards) needs libfuse >= 3.17, FUSE over io_uring 3.18. Debian 12 ships
# 3.14, so scripts/install-deps builds 3.17 from Debian's own source package
# into build-deps/ (static, so neither the binary nor the .deb needs
# libfuse3.so.4); `scripts/build-libfuse --series 3.18` builds 3.18 into
# build-deps/libfuse-3.18, used with -DCKPTFS_LIBFUSE_PREFIX=<that> (not the
# default: io_uring is off by default, and forky's version moves; see
# docs/mounting.md, "io_uring"). CKPTFS_LIBFUSE:
#   auto     the system's libfuse if >= 3.17, else the bundled build if it
#            exists, else the system's older one (no passthrough)
#   system   the system's libfuse (pkg-config fuse3 >= 3.14), whatever its version
#   bundled  the static build in CKPTFS_LIBFUSE_PREFIX
set(CKPTFS_LIBFUSE auto CACHE STRING "libfuse to build against: auto, system or bundled")
set_property(CACHE CKPTFS_LIBFUSE PROPERTY STRINGS auto system bundled)
set(CKPTFS_LIBFUSE_PREFIX ${PROJECT_SOURCE_DIR}/build-deps/libfuse-3.17 CACHE PATH
	"Where scripts/build-libfuse put the static libfuse (3.17 or 3.18)")

set(bundled_lib ${CKPTFS_LIBFUSE_PREFIX}/lib/libfuse3.a)
set(use_bundled OFF)
if(CKPTFS_LIBFUSE STREQUAL "bundled")
	if(NOT EXISTS ${bundled_lib})
		message(FATAL_ERROR "CKPTFS_LIBFUSE=bundled but ${bundled_lib} does not exist: "
			"run scripts/install-deps (or scripts/build-libfuse)")
	endif()
	set(use_bundled ON)
elseif(CKPTFS_LIBFUSE STREQUAL "auto")
	pkg_check_modules(FUSE3_NEW QUIET fuse3>=3.17)
	if(NOT FUSE3_NEW_FOUND AND EXISTS ${bundled_lib})
		set(use_bundled ON)
	endif()
elseif(NOT CKPTFS_LIBFUSE STREQUAL "system")
	message(FATAL_ERROR "CKPTFS_LIBFUSE must be auto, system or bundled, not '${CKPTFS_LIBFUSE}'")
endif()

# The libraries a static libfuse needs beside libc, as scripts/build-libfuse
# listed them in lib/libfuse3.deps (3.18: uring numa; none before, or no
# file): static ones where the system has them, so the binary (and a wheel)
# needs no more shared libraries than with 3.17.
function(ckptfs_libfuse_deps out)
	set(libs "")
	set(deps_file ${CKPTFS_LIBFUSE_PREFIX}/lib/libfuse3.deps)
	if(EXISTS ${deps_file})
		file(STRINGS ${deps_file} names REGEX "^[a-z0-9_+-]+$")
		foreach(name IN LISTS names)
			find_library(CKPTFS_LIBFUSE_DEP_${name} NAMES lib${name}.a ${name})
			if(NOT CKPTFS_LIBFUSE_DEP_${name})
				message(FATAL_ERROR "the libfuse in ${CKPTFS_LIBFUSE_PREFIX} needs lib${name}, "
					"which is not installed (scripts/install-deps)")
			endif()
			list(APPEND libs ${CKPTFS_LIBFUSE_DEP_${name}})
		endforeach()
	endif()
	set(${out} "${libs}" PARENT_SCOPE)
endfunction()

if(use_bundled)
	find_package(Threads REQUIRED)
	ckptfs_libfuse_deps(bundled_deps)
	add_library(ckptfs_libfuse STATIC IMPORTED GLOBAL)
	set_target_properties(ckptfs_libfuse PROPERTIES
		IMPORTED_LOCATION ${bundled_lib}
		INTERFACE_INCLUDE_DIRECTORIES ${CKPTFS_LIBFUSE_PREFIX}/include/fuse3
		INTERFACE_LINK_LIBRARIES "${bundled_deps};Threads::Threads;${CMAKE_DL_LIBS}")
	file(READ ${CKPTFS_LIBFUSE_PREFIX}/include/fuse3/libfuse_config.h cfg)
	string(REGEX MATCH "FUSE_MINOR_VERSION ([0-9]+)" _ "${cfg}")
	set(CKPTFS_LIBFUSE_VERSION "3.${CMAKE_MATCH_1} (bundled, static: ${CKPTFS_LIBFUSE_PREFIX})")
else()
	pkg_check_modules(FUSE3 REQUIRED IMPORTED_TARGET GLOBAL fuse3>=3.14)
	add_library(ckptfs_libfuse INTERFACE IMPORTED GLOBAL)
	set_target_properties(ckptfs_libfuse PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::FUSE3)
	set(CKPTFS_LIBFUSE_VERSION "${FUSE3_VERSION} (system)")
endif()
if(use_bundled)
	set(CKPTFS_LIBFUSE_USED bundled CACHE INTERNAL "which libfuse this build links (for tests)")
else()
	set(CKPTFS_LIBFUSE_USED system CACHE INTERNAL "which libfuse this build links (for tests)")
endif()
message(STATUS "libfuse: ${CKPTFS_LIBFUSE_VERSION}")
