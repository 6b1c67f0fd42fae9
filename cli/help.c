/*
 * help.c - the help texts of ckptfs (see help.h). Layout rules, so that
 * help2man turns them into good man pages: "Usage:" lines first, options
 * indented by two spaces with their description in column 28 (and its
 * continuation lines too), and section headings as lines ending in ':'.
 * Lines stay under 80 columns.
 */
#include "cli/help.h"

#include <stdarg.h>
#include <string.h>

#include "cli/cli.h"
#include "fs/fs.h"
#include "util/util.h"

/* The mount help below states the max_read and readahead ranges. */
_Static_assert(CKPTFS_MAX_READ == 1048576 && CKPTFS_MAX_READ_UNPRIVILEGED == 524288,
	       "update -o max_read in the mount help");
_Static_assert(CKPTFS_READAHEAD_MAX_KB == 1048576, "update -o readahead in the mount help");

static const char *const no_options[] = { NULL };

static const char *const ls_args[] = { "CHECKPOINT|MAPPING", NULL };
static const char *const ls_options[] = { "--objects", "--json", NULL };
static const char ls_text[] =
	"Usage: ckptfs ls [--objects | --json] CHECKPOINT|MAPPING\n"
	"List the tensors of a checkpoint, or of the checkpoint a mapping file\n"
	"merges, one per line in name order, in tab-separated columns NAME, DTYPE,\n"
	"SHAPE, SHARD, OFFSET and SIZE.\n"
	"\n"
	"SHAPE is [d0,d1,...], [] for a scalar. SHARD, OFFSET and SIZE say where\n"
	"the tensor's bytes are: in data file PREFIX.data-SHARD-of-N, at OFFSET,\n"
	"SIZE bytes long; they are '-' for a partitioned variable, whose pieces\n"
	"hold its bytes and are not listed. For a MAPPING the location is the one\n"
	"in the merged checkpoint, and two more columns name the source and the\n"
	"tensor's name there, so every line says where a merged tensor comes from;\n"
	"both are '-' for the object graph a merge by object writes itself.\n"
	"Control characters in names are shown as \\n, \\t, \\r or \\xNN, and a\n"
	"backslash as \\\\, so that every line is one tensor.\n"
	"A file whose name ends in .safetensors is read as one: its tensors in\n"
	"data order, SHARD 0, OFFSET from the start of the file; its header is\n"
	"checked as strictly as the reference reader does. A Hugging Face model\n"
	"directory (model.safetensors.index.json and its shards, or\n"
	"model.safetensors) is listed in name order, SHARD the file that holds\n"
	"the tensor; the index.json is checked against the shards' headers.\n"
	"\n"
	"With --json the list is one JSON document, {\"tensors\": [...]}, each\n"
	"tensor an object with name, dtype, shape, shard, offset and size (null\n"
	"for a partitioned variable), and for a MAPPING source and source_name\n"
	"(null for the object graph). A name is its UTF-8 text; a byte that is not\n"
	"UTF-8 is \\udcXX (XX the byte: Python's surrogateescape, so\n"
	"os.fsencode() gives the bytes back) and a control character \\uXXXX.\n"
	"\n"
	"Examples:\n"
	"  ckptfs ls train/model.ckpt-1000      a checkpoint prefix\n"
	"  ckptfs ls train/                     the latest checkpoint in train/\n"
	"  ckptfs ls merge.conf | grep ^enc/    merged tensors under enc/\n"
	"  ckptfs ls --objects train/           the object tree of a TF2 checkpoint\n"
	"  ckptfs ls model.safetensors          a safetensors file\n"
	"  ckptfs ls Llama-3-8B/                a Hugging Face model directory\n"
	"\n"
	"Options:\n"
	"  --objects                list the object graph of a TF2 checkpoint (or\n"
	"                           the one a merge carries) instead: one object\n"
	"                           path per line, PATH/ for an object with\n"
	"                           children, PATH DTYPE SHAPE for a variable,\n"
	"                           PATH/ = FIRST/ for an alias of object FIRST.\n"
	"                           These paths are what map lines of a TF2\n"
	"                           source name\n";

static const char *const verify_args[] = { "CHECKPOINT", NULL };
static const char verify_text[] =
	"Usage: ckptfs verify CHECKPOINT\n"
	"Read every tensor of CHECKPOINT and check it against the CRC32C checksum\n"
	"its index stores. CHECKPOINT may be a mount: 'ckptfs verify\n"
	"MOUNTPOINT/model.ckpt' reads the merged checkpoint through FUSE.\n"
	"\n"
	"If every checksum matches it prints 'PREFIX: N tensors, B bytes in S\n"
	"shard(s): all checksums match' and exits 0. Otherwise it reports each\n"
	"bad tensor on stderr (\"ckptfs: 'PREFIX': tensor 'NAME': checksum\n"
	"mismatch (stored X, computed Y)\"), then prints 'PREFIX: K of N tensors\n"
	"FAILED verification' and exits 1.\n";

static const char *const cat_args[] = { "CHECKPOINT", "TENSOR", NULL };
static const char cat_text[] =
	"Usage: ckptfs cat CHECKPOINT TENSOR\n"
	"Write the stored bytes of one tensor of CHECKPOINT to stdout, after\n"
	"checking their CRC32C: little-endian numbers, row-major, as TensorFlow\n"
	"wrote them (strings in TensorFlow's own encoding). 'ckptfs ls' lists the\n"
	"names, dtypes and shapes.\n"
	"\n"
	"Example:\n"
	"  ckptfs cat model.ckpt dense/bias | od -A d -t f4\n";

static const char *const check_args[] = { "MAPPING", NULL };
static const char *const check_options[] = { "--json", NULL };
static const char check_text[] =
	"Usage: ckptfs check [--json] MAPPING\n"
	"Resolve the mapping file MAPPING as a mount would, without mounting:\n"
	"parse it, open every source read-only, apply the exclude and map lines,\n"
	"check that no two tensors get one name, and build the merged index.\n"
	"\n"
	"On success it prints 'MAPPING: ok', then one line per source (tensors\n"
	"taken from it, the checkpoint used) and one for the merge (tensors, data\n"
	"size, files, layout), and exits 0. An error is printed as\n"
	"  FILE:LINE:COL: error: MESSAGE\n"
	"at the line and column of the mapping file at fault, and it exits 1.\n"
	"Warnings (an exclude that matches nothing) look the same with 'warning'\n"
	"and do not fail the check. The messages are explained in mapping.md\n"
	"(/usr/share/doc/ckptfs/mapping.md).\n"
	"\n"
	"With --json it prints one JSON document instead, with the exit status\n"
	"unchanged: {\"mapping\", \"ok\": true, \"warnings\", \"prefix\", \"layout\",\n"
	"\"data_bytes\", \"sources\": [{name, tensors, checkpoint}], \"tensors\",\n"
	"\"files\": [{name, kind, size, source_shard}]}, or {\"mapping\", \"ok\":\n"
	"false, \"warnings\", \"error\": {file, line, column, message}} (line and\n"
	"column null when no line is at fault); strings are escaped as ls --json\n"
	"says. The error is printed on stderr as well.\n";

static const char *const materialize_args[] = { "MAPPING", "OUT_PREFIX", NULL };
static const char *const materialize_options[] = { "--link", "--force", "--format=", "--strict",
						   NULL };
static const char materialize_text[] =
	"Usage: ckptfs materialize [--link] [--force] [--format FORMAT] [--strict]\n"
	"       MAPPING OUT_PREFIX\n"
	"Write the checkpoint MAPPING merges to disk as OUT_PREFIX.index and\n"
	"OUT_PREFIX.data-00000-of-00001: a real checkpoint that needs no mount.\n"
	"Tensor bytes are copied with copy_file_range (instant on file systems\n"
	"that share extents, like XFS and Btrfs); a tensor mapped under several\n"
	"names is stored once. Files are written under temporary names and\n"
	"renamed into place, the index last; then OUT_PREFIX's directory gets a\n"
	"'checkpoint' state file naming it, as TensorFlow's save writes one, so\n"
	"tf.train.latest_checkpoint(DIR) finds it (not with --format safetensors,\n"
	"nor over the state file a source is read through). An output file that\n"
	"is a file of a source (OUT_PREFIX spelled another way, a hard link) is\n"
	"refused, even with --force. The mapping's `file` lines are written into\n"
	"OUT_PREFIX's directory under their names.\n"
	"\n"
	"Options:\n"
	"  --link                   write OUT_PREFIX.index and one symlink per\n"
	"                           source shard used, instead of copying: no data\n"
	"                           is written and no daemon runs, but the sources\n"
	"                           must stay where they are\n"
	"  --force                  overwrite an existing OUT_PREFIX checkpoint\n"
	"  --format safetensors     write OUT_PREFIX.safetensors instead: the\n"
	"                           merged tensors safetensors can hold (above\n"
	"                           max_shard_size, OUT_PREFIX-00001-of-0000N\n"
	"                           .safetensors... and OUT_PREFIX.safetensors\n"
	"                           .index.json)\n"
	"                           (--format tensorflow: the default)\n"
	"  --strict                 with --format safetensors: a tensor it cannot\n"
	"                           hold is an error, not a warning\n";

static const char tf_plugin_text[] =
	"Usage: ckptfs tf-plugin\n"
	"Print the absolute path of the TensorFlow filesystem plugin that belongs\n"
	"to this ckptfs (the build tree's when run from the build tree, else the\n"
	"installed one), and exit 0; exit 1 if it was not built or is missing.\n"
	"The plugin serves the merge of a mapping file inside TensorFlow, with no\n"
	"mount and no FUSE, under the scheme ckptfs://: ckptfs:// + the absolute\n"
	"path of a mapping file is the merged directory.\n"
	"\n"
	"Example:\n"
	"  import subprocess, tensorflow as tf\n"
	"  tf.experimental.register_filesystem_plugin(subprocess.check_output(\n"
	"      [\"ckptfs\", \"tf-plugin\"], text=True).strip())\n"
	"  tf.train.load_checkpoint(\"ckptfs:///data/merge.conf/model.ckpt\")\n";

static const struct help_command commands[] = {
	{ "check", check_args, check_options, check_text },
	{ "ls", ls_args, ls_options, ls_text },
	{ "verify", verify_args, no_options, verify_text },
	{ "cat", cat_args, no_options, cat_text },
	{ "materialize", materialize_args, materialize_options, materialize_text },
	{ "tf-plugin", no_options, no_options, tf_plugin_text },
};

static const char main_text[] =
	"Usage: ckptfs MAPPING MOUNTPOINT [-f] [-o OPTION[,OPTION]...]\n"
	"  or:  ckptfs check [--json] MAPPING\n"
	"  or:  ckptfs ls [--objects | --json] CHECKPOINT|MAPPING\n"
	"  or:  ckptfs verify CHECKPOINT\n"
	"  or:  ckptfs cat CHECKPOINT TENSOR\n"
	"  or:  ckptfs materialize [OPTIONS] MAPPING OUT_PREFIX\n"
	"  or:  ckptfs tf-plugin\n"
	"Mount a TensorFlow checkpoint merged from others without copying their\n"
	"data, or inspect checkpoints and mapping files.\n"
	"\n"
	"A mapping file (MAPPING) names the source checkpoints and which of their\n"
	"tensors the merge holds, under which names:\n"
	"\n"
	"  source a = model_a/model-a  # a checkpoint, relative to this file\n"
	"  source b = model_b          # a directory: its latest checkpoint\n"
	"  map a:encoder/ -> encoder/  # every tensor under encoder/\n"
	"  map b:decoder/ -> dec/      # every tensor under decoder/, renamed\n"
	"  map b:step -> global_step   # one tensor, renamed\n"
	"\n"
	"The first form checks MAPPING and every source, mounts the merged\n"
	"checkpoint read-only at MOUNTPOINT (MOUNTPOINT/model.ckpt.index,\n"
	"model.ckpt.data-00000-of-00001, checkpoint) and goes into the background.\n"
	"Unmount it with 'fusermount3 -u MOUNTPOINT' or umount. It is also\n"
	"installed as mount.ckptfs, for mount(8) and /etc/fstab.\n"
	"\n"
	"Commands:\n"
	"  check MAPPING            resolve MAPPING as a mount would, summarize\n"
	"                           the merge; errors name FILE:LINE:COL\n"
	"  ls CHECKPOINT|MAPPING    list tensors: name, dtype, shape, shard,\n"
	"                           offset, size (for a MAPPING: and the source)\n"
	"  verify CHECKPOINT        read every tensor, check every CRC32C\n"
	"  cat CHECKPOINT TENSOR    write one tensor's stored bytes to stdout\n"
	"  materialize MAPPING OUT_PREFIX\n"
	"                           write the merged checkpoint to disk\n"
	"  tf-plugin                print the path of the TensorFlow plugin that\n"
	"                           serves ckptfs://MAPPING/ without a mount\n"
	"Run 'ckptfs COMMAND --help' for the details of a command.\n"
	"\n"
	"CHECKPOINT is a checkpoint prefix (PATH.index exists), a directory with a\n"
	"'checkpoint' file naming one, a SavedModel or its variables/ directory.\n"
	"A CHECKPOINT (and a mapping's source) may also be an s3://BUCKET/KEY or\n"
	"https:// URL: fetched by range as it is read, verified, cached.\n"
	"\n"
	"Environment (remote sources):\n"
	"  AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,\n"
	"  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,\n"
	"  AWS_SHARED_CREDENTIALS_FILE, AWS_CA_BUNDLE  as every AWS tool reads them\n"
	"  CKPTFS_CACHE_DIR         the cache (default ~/.cache/ckptfs)\n"
	"  CKPTFS_CACHE_SIZE        its cap (default 10G)\n"
	"  CKPTFS_REMOTE_TIMEOUT    seconds a read may take (default 30)\n"
	"\n"
	"Options:\n"
	"  -h, --help               print this help and exit\n"
	"  -V, --version            print the version and exit\n"
	"\n"
	"Mount options:\n"
	"  -o prefix=NAME           name of the merged checkpoint (default: the\n"
	"                           mapping's 'prefix' line, else model.ckpt)\n"
	"  -o layout=single|shards  one data file, or one per source shard used\n"
	"                           (default: the mapping's 'layout', else single)\n"
	"  -o format=tensorflow|safetensors|both\n"
	"                           which files the mount shows (default: the\n"
	"                           mapping's 'format', else tensorflow)\n"
	"  -o allow_other           let every user read the mount\n"
	"  -f                       stay in the foreground, messages on stderr\n"
	"'ckptfs MAPPING MOUNTPOINT --help' lists every mount option.\n"
	"\n"
	"Materialize options:\n"
	"  --link                   write only the index and symlinks to the\n"
	"                           source shards (nothing copied)\n"
	"  --force                  overwrite an existing checkpoint\n"
	"\n"
	"Exit status:\n"
	"  0                        success\n"
	"  1                        bad input: arguments, the mapping file, a\n"
	"                           source; or a check or verify that failed\n"
	"  2                        the mount failed: the mountpoint, FUSE\n"
	"\n"
	"Mapping files: /usr/share/doc/ckptfs/mapping.md; mounting from fstab or\n"
	"systemd: mount.ckptfs(8).\n";

static const char mount_text[] =
	"\n"
	"MAPPING and every source are read and checked, and the merged index is\n"
	"built, before anything is mounted: on an error nothing is mounted. Then\n"
	"the daemon goes into the background (the command returns 0) and serves\n"
	"reads until the file system is unmounted ('fusermount3 -u MOUNTPOINT'\n"
	"or 'umount MOUNTPOINT') or it gets SIGTERM or SIGINT. The mount holds\n"
	"PREFIX.index, PREFIX.data-*-of-* and a 'checkpoint' file, so TensorFlow\n"
	"takes MOUNTPOINT as a checkpoint directory. Sources stay open: deleting\n"
	"or replacing them does not disturb the mount.\n"
	"\n"
	"Options:\n"
	"  -h, --help               print this help and exit\n"
	"  -V, --version            print the version and exit\n"
	"  -f                       stay in the foreground; messages go to stderr\n"
	"                           (in the background: to syslog)\n"
	"  -d, -o debug             print every FUSE request (implies -f)\n"
	"  -s                       serve requests in a single thread\n"
	"  -o OPTION[,OPTION]...    the options below; -o may be repeated\n"
	"\n"
	"ckptfs options:\n"
	"  -o prefix=NAME           name of the merged checkpoint in the mount\n"
	"                           (default: the mapping's 'prefix' line, else\n"
	"                           model.ckpt)\n"
	"  -o layout=single|shards  single: one data file, reads translated;\n"
	"                           shards: one data file per source shard used,\n"
	"                           identical to it (default: the mapping's\n"
	"                           'layout' line, else single)\n"
	"  -o format=tensorflow|safetensors|both\n"
	"                           the TensorFlow files, PREFIX.safetensors, or\n"
	"                           both (default: the mapping's 'format' line,\n"
	"                           else tensorflow)\n"
	"  -o strict                a tensor PREFIX.safetensors cannot hold (a\n"
	"                           string, ...) is an error, not a warning\n"
	"  -o max_read=N            largest read request, 4096 to 1048576 bytes\n"
	"                           (above 524288 needs root: splice pipes larger\n"
	"                           than pipe-max-size); default 1048576 for\n"
	"                           direct I/O (as root), else 524288\n"
	"  -o readahead=KIB         kernel readahead for the mount, 0 to 1048576\n"
	"                           KiB; 0 keeps the kernel's 128 (default 1024;\n"
	"                           root)\n"
	"  -o passthrough=auto|off  auto: the kernel reads each data file that is\n"
	"                           one source shard whole straight from it (FUSE\n"
	"                           passthrough: Linux >= 6.9, root), else the\n"
	"                           daemon serves it; off: the daemon serves every\n"
	"                           read (default auto)\n"
	"  -o cache=auto|page|direct\n"
	"                           how the data files the daemon serves (not\n"
	"                           passed through) reach readers: page: the FUSE\n"
	"                           page cache (a second cached copy of each byte\n"
	"                           read); direct: direct I/O, every read from the\n"
	"                           daemon, one cached copy (needs Linux >= 6.6 and\n"
	"                           libfuse >= 3.16 for mmap, else page); auto:\n"
	"                           direct where possible (default auto)\n"
	"  -o io_uring=auto|off     auto: requests come through io_uring queues\n"
	"                           where libfuse (>= 3.18) and the kernel (the\n"
	"                           fuse module's enable_uring) offer them, else\n"
	"                           through /dev/fuse; off: /dev/fuse (default off:\n"
	"                           faster TF restores, slower sequential reads)\n"
	"  -o nonempty              mount on a directory that holds files, hiding\n"
	"                           them until unmounted (refused without it)\n"
	"  -o cache_dir=DIR         where bytes of s3:// and http(s):// sources are\n"
	"                           cached (default $CKPTFS_CACHE_DIR, else\n"
	"                           $XDG_CACHE_HOME/ckptfs, else ~/.cache/ckptfs)\n"
	"  -o cache_size=SIZE       cap on the cache's disk use, bytes or with K, M,\n"
	"                           G or T; least recently used objects go first\n"
	"                           (default $CKPTFS_CACHE_SIZE, else 10G)\n"
	"  -o remote_timeout=SEC    how long a read of a remote source may take,\n"
	"                           retries included, before it fails with EIO\n"
	"                           (default $CKPTFS_REMOTE_TIMEOUT, else 30)\n"
	"\n"
	"FUSE options:\n"
	"  -o allow_other           let every user read the mount (as root, or\n"
	"                           with user_allow_other in /etc/fuse.conf);\n"
	"                           turns on default_permissions; every source\n"
	"                           file must then be readable by every user\n"
	"  -o allow_root            let root read a mount another user made\n"
	"  -o default_permissions   the kernel checks the file modes (0444, 0555)\n"
	"  -o auto_unmount          unmount when the daemon ends, even if killed\n"
	"  -o fsname=NAME           the source shown in /proc/mounts (default\n"
	"                           ckptfs)\n"
	"  -o subtype=NAME          the type shown as fuse.NAME (default ckptfs)\n"
	"  -o clone_fd              one /dev/fuse descriptor per worker thread\n"
	"  -o max_idle_threads=N    idle worker threads to keep (default 10)\n"
	"\n"
	"mount(8) options:\n"
	"  -o ro                    always on: the mount is read-only, and rw is\n"
	"                           ignored\n"
	"  -o nosuid,nodev,noexec,noatime\n"
	"                           generic mount flags, passed to the kernel\n"
	"  -o defaults,auto,noauto,nofail,_netdev,user,users,nouser\n"
	"                           /etc/fstab words for mount(8): ignored here\n"
	"\n"
	"Exit status:\n"
	"  0                        mounted, then unmounted or stopped by a signal\n"
	"  1                        bad input: arguments, options, the mapping\n"
	"                           file, a source\n"
	"  2                        the mount failed: MOUNTPOINT is missing, not a\n"
	"                           directory, not empty, already mounted, or FUSE\n"
	"                           refused\n"
	"\n"
	"An /etc/fstab line, for 'mount /mnt/merged' and mounting at boot:\n"
	"  /srv/merge.conf /mnt/merged fuse.ckptfs nofail 0 0\n"
	"\n"
	"Examples:\n"
	"  $ ckptfs merge.conf /mnt/merged -o layout=shards\n"
	"  $ mount -t fuse.ckptfs /srv/merge.conf /mnt/merged\n"
	"  $ mount -t ckptfs -o allow_other /srv/merge.conf /mnt/merged\n";

const struct help_command *help_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

const char *help_suggest(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3; /* at most two edits away */

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		size_t d = util_edit_distance(name, strlen(name), commands[i].name,
					      strlen(commands[i].name), 2, UTIL_EDIT_SWAP);

		if (d < best_d && d < strlen(commands[i].name)) {
			best = commands[i].name;
			best_d = d;
		}
	}
	return best;
}

void help_main(FILE *f) { fputs(main_text, f); }

void help_short(FILE *f)
{
	/* the synopsis: the "Usage:" lines up to the description */
	const char *end = strstr(main_text, "\nMount a ");

	fwrite(main_text, 1, (size_t)(end - main_text) + 1, f);
	fputs("Try 'ckptfs --help' for more information.\n", f);
}

void help_command(FILE *f, const struct help_command *c) { fputs(c->text, f); }

static void mount_usage(FILE *f, const char *progname)
{
	fprintf(f,
		"Usage: %s MAPPING MOUNTPOINT [-f] [-d] [-s] "
		"[-o OPTION[,OPTION]...]\n",
		progname);
}

void help_mount(FILE *f, const char *progname)
{
	mount_usage(f, progname);
	fputs("Mount the TensorFlow checkpoint that the mapping file MAPPING merges\n"
	      "from other checkpoints at MOUNTPOINT, read-only, copying no data.\n",
	      f);
	if (!strcmp(progname, "mount.ckptfs"))
		fputs("mount(8) runs mount.ckptfs for 'mount -t ckptfs' and /etc/fstab\n"
		      "lines of type ckptfs; for type fuse.ckptfs, mount.fuse3 runs\n"
		      "'ckptfs MAPPING MOUNTPOINT -o OPTIONS' instead, which is the same.\n",
		      f);
	fputs(mount_text, f);
}

void help_version(FILE *f, const char *progname)
{
	if (strcmp(progname, "ckptfs"))
		fprintf(f, "%s (ckptfs) %s\n", progname, CKPTFS_VERSION);
	else
		fprintf(f, "ckptfs %s\n", CKPTFS_VERSION);
}

/* The "Usage:" line of c's text, without "Usage: ". */
static void command_usage(FILE *f, const struct help_command *c)
{
	const char *s = c->text, *nl = strchr(s, '\n');

	fwrite(s, 1, (size_t)(nl - s) + 1, f);
}

int help_usage_error(const struct help_command *c, const char *progname, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (c)
		fprintf(stderr, "ckptfs: %s: ", c->name);
	else
		fputs("ckptfs: ", stderr);
	va_start(ap, fmt);
	cli_vmessage(stderr, fmt, ap); /* quotes arguments: shown safely */
	va_end(ap);
	fputc('\n', stderr);
	if (c) {
		command_usage(stderr, c);
		fprintf(stderr, "Try 'ckptfs %s --help' for more information.\n", c->name);
	} else {
		mount_usage(stderr, progname);
		fprintf(stderr, "Try '%s --help' for more information.\n", progname);
	}
	return 1;
}

/*
 * 1 if arg is an option of c, 2 if it is one that takes the next argument
 * as its value ("--format X"; listed as "--format="), else 0. "--format=X"
 * is 1.
 */
static int is_option_of(const struct help_command *c, const char *arg)
{
	for (const char *const *o = c->options; *o; o++) {
		size_t n = strlen(*o);

		if (!strcmp(arg, *o))
			return 1;
		if (n && (*o)[n - 1] == '=' && !strncmp(arg, *o, n))
			return 1;
		if (n && (*o)[n - 1] == '=' && !strncmp(arg, *o, n - 1) && !arg[n - 1])
			return 2;
	}
	return 0;
}

int help_check_args(const struct help_command *c, int *argc, char **argv)
{
	int n = 0, want = 0, options_end = 0;

	while (c->args[want])
		want++;
	for (int i = 1; i < *argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help_command(stdout, c);
			return 0;
		}
	}
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (!options_end && !strcmp(a, "--")) {
			/* drop it: what follows is positional, even "-x" */
			memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof(*argv));
			(*argc)--;
			i--;
			options_end = 1;
			continue;
		}
		if (!options_end && a[0] == '-' && a[1] && !is_option_of(c, a))
			return help_usage_error(c, NULL, "unknown option '%s'", a);
		if (!options_end && a[0] == '-' && a[1] && is_option_of(c, a) == 2)
			i++; /* its value, whatever it looks like */
		if (!options_end && a[0] == '-' && a[1])
			continue;
		if (n == want)
			return help_usage_error(c, NULL, "unexpected argument '%s'", a);
		n++;
	}
	if (n < want)
		return help_usage_error(c, NULL, "missing %s", c->args[n]);
	return -1;
}
