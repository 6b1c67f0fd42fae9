# tfplugin.cmake - whether to build the TensorFlow filesystem plugin, and
# where TensorFlow's C headers are. TensorFlow documents its headers'
# place as tf.sysconfig.get_include() of the Python it is installed in, so
# that Python is asked (once: the answer is cached in CKPTFS_TF_INCLUDE).
# Sets CKPTFS_TF_PLUGIN_BUILD and CKPTFS_TF_INCLUDE.
set(CKPTFS_TF_PLUGIN_BUILD OFF)
set(tf_header tensorflow/c/experimental/filesystem/filesystem_interface.h)
if(NOT CKPTFS_TF_PLUGIN MATCHES "^(AUTO|ON|OFF)$")
	message(FATAL_ERROR "CKPTFS_TF_PLUGIN must be AUTO, ON or OFF, not '${CKPTFS_TF_PLUGIN}'")
endif()
# A sanitized plugin cannot load into TensorFlow's process, which has no
# ASan runtime ("ASan runtime does not come first"): sanitized builds leave
# the plugin out, and their tests load a regular build's (scripts/test).
set(tf_plugin_wanted "${CKPTFS_TF_PLUGIN}")
if(CKPTFS_SANITIZE AND CKPTFS_TF_PLUGIN STREQUAL "ON")
	message(FATAL_ERROR "CKPTFS_TF_PLUGIN=ON cannot be combined with CKPTFS_SANITIZE: "
		"TensorFlow's process has no sanitizer runtime to load it with")
elseif(CKPTFS_SANITIZE)
	set(tf_plugin_wanted OFF)
	message(STATUS "TensorFlow plugin: not built (a sanitized build)")
endif()
if(NOT tf_plugin_wanted STREQUAL "OFF")
	if(NOT CKPTFS_TF_INCLUDE OR NOT EXISTS "${CKPTFS_TF_INCLUDE}/${tf_header}")
		set(python "${CKPTFS_PYTHON}")
		if(NOT python)
			foreach(candidate "$ENV{CKPTFS_VENV}/bin/python"
					"${PROJECT_SOURCE_DIR}/.venv/bin/python")
				if(NOT python AND EXISTS "${candidate}" AND NOT candidate MATCHES "^/bin/")
					set(python "${candidate}")
				endif()
			endforeach()
		endif()
		if(NOT python)
			find_program(python python3)
		endif()
		set(include "")
		if(python)
			execute_process(
				COMMAND ${CMAKE_COMMAND} -E env TF_CPP_MIN_LOG_LEVEL=3 ${python} -c
					"import tensorflow as tf; print(tf.sysconfig.get_include())"
				OUTPUT_VARIABLE include OUTPUT_STRIP_TRAILING_WHITESPACE
				ERROR_QUIET RESULT_VARIABLE rc)
			if(NOT rc EQUAL 0)
				set(include "")
			endif()
		endif()
		if(include AND EXISTS "${include}/${tf_header}")
			set(CKPTFS_TF_INCLUDE "${include}" CACHE PATH
				"TensorFlow's C headers (tf.sysconfig.get_include())" FORCE)
		else()
			unset(CKPTFS_TF_INCLUDE CACHE)
		endif()
	endif()
	if(CKPTFS_TF_INCLUDE)
		set(CKPTFS_TF_PLUGIN_BUILD ON)
		message(STATUS "TensorFlow plugin: headers in ${CKPTFS_TF_INCLUDE}")
	elseif(CKPTFS_TF_PLUGIN STREQUAL "ON")
		message(FATAL_ERROR "CKPTFS_TF_PLUGIN=ON but no TensorFlow headers (${tf_header}) "
			"were found: set CKPTFS_PYTHON to a python with tensorflow installed, "
			"or CKPTFS_TF_INCLUDE to its tf.sysconfig.get_include()")
	else()
		message(STATUS "TensorFlow plugin: not built (no TensorFlow headers found; "
			"set CKPTFS_PYTHON)")
	endif()
endif()
if(CKPTFS_TF_PLUGIN_BUILD)
	enable_language(CXX)
	set(CMAKE_POSITION_INDEPENDENT_CODE ON)
endif()
