#!/bin/sh
# check-layers.sh - the module walls of docs/design.md, checked on every
# build (and by ctest as "layers"): the include lines of the product code
# and the symbols its static libraries use.
#
#   check-layers.sh SOURCE_DIR NM LIB_DIR
#
# Layers, lowest first: util < bundle < objgraph and safetensors, util <
# mapping, then view (on objgraph, safetensors, bundle and mapping) < fs <
# cli, and tfplugin (the TensorFlow plugin, a front end beside fs/) on
# view. A module includes its own headers and the public header of a
# module below it (util/util.h, bundle/bundle.h, objgraph/objgraph.h,
# safetensors/safetensors.h, mapping/mapping.h, view/view.h, fs/fs.h); only fs/ sees libfuse; only bundle/ and objgraph/ see
# protobuf-c; only tfplugin/ sees TensorFlow; no library refers to stdout
# or stderr (only cli/ prints).
set -u
src=$1 nm=$2 libdir=$3
fail=0

complain() {
	echo "check-layers: $*" >&2
	fail=1
}

# allowed_includes MODULE: the project headers MODULE may include (regex)
allowed_includes() {
	case $1 in
	util) echo '^util/' ;;
	store) echo '^(store/|util/util\.h$)' ;;
	bundle) echo '^(bundle/|store/store\.h$|util/util\.h$|[a-z_]+\.pb-c\.h$)' ;;
	objgraph) echo '^(objgraph/|bundle/bundle\.h$|util/util\.h$|[a-z_]+\.pb-c\.h$)' ;;
	safetensors) echo '^(safetensors/|bundle/bundle\.h$|util/util\.h$)' ;;
	mapping) echo '^(mapping/|util/util\.h$)' ;;
	view) echo '^(view/|store/store\.h$|bundle/bundle\.h$|objgraph/objgraph\.h$|safetensors/safetensors\.h$|mapping/mapping\.h$|util/util\.h$)' ;;
	fs) echo '^(fs/|view/view\.h$|bundle/bundle\.h$|mapping/mapping\.h$|util/util\.h$)' ;;
	cli) echo '^(cli/|store/store\.h$|fs/fs\.h$|view/view\.h$|bundle/bundle\.h$|objgraph/objgraph\.h$|safetensors/safetensors\.h$|mapping/mapping\.h$|util/util\.h$)' ;;
	tfplugin) echo '^(tfplugin/|view/view\.h$|bundle/bundle\.h$|mapping/mapping\.h$|util/util\.h$)' ;;
	esac
}

for mod in util store bundle objgraph safetensors mapping view fs cli tfplugin; do
	allowed=$(allowed_includes $mod)
	for f in "$src/$mod"/*.c "$src/$mod"/*.h "$src/$mod"/*.cc; do
		[ -e "$f" ] || continue
		rel=${f#"$src"/}
		grep -n '^[[:space:]]*#[[:space:]]*include' "$f" |
		while IFS= read -r line; do
			hdr=$(printf '%s\n' "$line" | sed -n 's/.*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p')
			case $line in
			*'"'*)
				printf '%s\n' "$hdr" | grep -Eq "$allowed" ||
					echo "$rel:${line%%:*}: $mod/ may not include \"$hdr\""
				;;
			esac
			case $hdr in
			fuse*|fuse3/*)
				[ $mod = fs ] ||
					echo "$rel:${line%%:*}: only fs/ may include <$hdr> (libfuse)" ;;
			protobuf-c/*|*.pb-c.h)
				case $mod in bundle|objgraph) ;; *)
					echo "$rel:${line%%:*}: only bundle/ and objgraph/ may include <$hdr> (protobuf-c)" ;;
				esac ;;
			curl/*)
				[ $mod = store ] ||
					echo "$rel:${line%%:*}: only store/ may include <$hdr> (libcurl)" ;;
			tensorflow/*)
				[ $mod = tfplugin ] ||
					echo "$rel:${line%%:*}: only tfplugin/ may include <$hdr> (TensorFlow)" ;;
			esac
		done
	done
done > "${TMPDIR:-/tmp}/check-layers.$$" 2>&1
if [ -s "${TMPDIR:-/tmp}/check-layers.$$" ]; then
	sed 's/^/check-layers: /' "${TMPDIR:-/tmp}/check-layers.$$" >&2
	fail=1
fi
rm -f "${TMPDIR:-/tmp}/check-layers.$$"

# lib MODULE: its static library, found under LIB_DIR
lib() {
	find "$libdir" -name "libckptfs_$1.a" -print -quit
}

# Symbols each library leaves undefined, checked against what it may use
# (tfplugin's core only when the plugin is built).
for mod in util store bundle objgraph safetensors mapping view fs tfplugin; do
	a=$(lib $mod)
	if [ -z "$a" ]; then
		[ $mod = tfplugin ] ||
			complain "libckptfs_$mod.a not found under $libdir"
		continue
	fi
	undef=$("$nm" -u --format=posix "$a" 2>/dev/null | awk 'NF >= 2 { print $1 }' | sort -u)
	for sym in $undef; do
		case $sym in
		fuse_*)
			[ $mod = fs ] || complain "$mod: uses libfuse symbol $sym" ;;
		curl_*)
			[ $mod = store ] || complain "$mod: uses libcurl symbol $sym" ;;
		store_*|aws_*)
			case $mod in util) complain "$mod: calls $sym of store/" ;; esac ;;
		protobuf_c_*)
			case $mod in bundle|objgraph) ;; *) complain "$mod: uses protobuf-c symbol $sym" ;; esac ;;
		stdout|stderr|printf|puts|putchar|perror|vprintf)
			complain "$mod: uses $sym (only cli/ prints)" ;;
		cli_*|help_*)
			complain "$mod: calls $sym of cli/" ;;
		fs_*|ckptfs_*)
			[ $mod = fs ] || complain "$mod: calls $sym of fs/" ;;
		tfp_*)
			[ $mod = tfplugin ] || complain "$mod: calls $sym of tfplugin/" ;;
		TF_*)
			complain "$mod: uses TensorFlow symbol $sym (only tfplugin/plugin.cc may)" ;;
		bundle_*)
			[ $mod = mapping ] && complain "$mod: calls $sym of bundle/" ;;
		mapping_*)
			case $mod in bundle|objgraph|safetensors) complain "$mod: calls $sym of mapping/" ;; esac ;;
		objgraph_*)
			case $mod in util|bundle|safetensors|mapping) complain "$mod: calls $sym of objgraph/" ;; esac ;;
		safetensors_*)
			case $mod in util|bundle|objgraph|mapping) complain "$mod: calls $sym of safetensors/" ;; esac ;;
		view_*|plan_*|layout_*|nametable_*|suggest_*)
			case $mod in view|fs|tfplugin) ;; *) complain "$mod: calls $sym of view/" ;; esac ;;
		esac
	done
done
exit $fail
