/*
 * plugin.cc - TensorFlow's side of the plugin: TF_InitPlugin registers the
 * scheme "ckptfs" and each operation of TensorFlow's C filesystem interface
 * is answered from tfplugin.h. It is C++ only because
 * filesystem_interface.h is (constexpr); everything it does is in the C
 * core. Read-only: every call that would change something fails with
 * PERMISSION_DENIED naming ckptfs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tensorflow/c/experimental/filesystem/filesystem_interface.h>
#include <tensorflow/c/tf_status.h>

extern "C" {
#include "tfplugin/tfplugin.h"
#include "util/util.h"
}

namespace
{

/* An open TF_RandomAccessFile: the plan it opened with, and which file. */
struct open_file {
	struct tfp_node node;     /* from tfp_open: closed with tfp_close */
	char *path;               /* owned, for messages */
	struct view_readahead ra; /* a remote merge's read ahead (calloc: zero) */
};

struct tfp_cache *cache_of(const TF_Filesystem *fs)
{
	return static_cast<struct tfp_cache *>(fs->plugin_filesystem);
}

/* The TensorFlow code for a negative errno from the core. */
TF_Code code_of(int rc)
{
	switch (-rc) {
	case ENOENT: return TF_NOT_FOUND;
	case EACCES:
	case EPERM: return TF_PERMISSION_DENIED;
	case EINVAL: return TF_INVALID_ARGUMENT;
	case EBADMSG:
	case EIO: return TF_DATA_LOSS;
	case ENOTSUP: return TF_UNIMPLEMENTED;
	case ENOMEM: return TF_RESOURCE_EXHAUSTED;
	case ENOTDIR:
	case EISDIR: return TF_FAILED_PRECONDITION;
	default: return TF_UNKNOWN;
	}
}

/* Resolve path into *node, or set status from the core's error. */
int resolve(const TF_Filesystem *fs, const char *path, struct tfp_node *node, TF_Status *status)
{
	char err[2048] = "";
	int rc = tfp_resolve(cache_of(fs), path, node, err, sizeof(err));

	if (rc)
		TF_SetStatus(status, code_of(rc), err);
	else
		TF_SetStatus(status, TF_OK, "");
	return rc;
}

/* path as messages show it: escaped, as everything read from outside */
const char *shown(char *buf, size_t len, const char *path)
{
	return util_escape(buf, len, path, strlen(path), 0);
}

void set_not_dir(TF_Status *status, const char *path)
{
	char msg[4096], show[1024];

	snprintf(msg, sizeof(msg), "'%s': not a directory (a ckptfs directory is a mapping file)",
		 shown(show, sizeof(show), path));
	TF_SetStatus(status, TF_FAILED_PRECONDITION, msg);
}

void set_not_file(TF_Status *status, const char *path)
{
	char msg[4096], show[1024];

	snprintf(msg, sizeof(msg), "'%s': is the merged directory, not a file",
		 shown(show, sizeof(show), path));
	TF_SetStatus(status, TF_FAILED_PRECONDITION, msg);
}

void set_read_only(TF_Status *status, const char *op, const char *path)
{
	char msg[4096], show[1024];

	snprintf(msg, sizeof(msg), "ckptfs is read-only: cannot %s '%s'", op,
		 shown(show, sizeof(show), path));
	TF_SetStatus(status, TF_PERMISSION_DENIED, msg);
}

/* ------------------------------------------------------- the file system */

void fs_init(TF_Filesystem *fs, TF_Status *status)
{
	fs->plugin_filesystem = tfp_cache_new();
	if (fs->plugin_filesystem)
		TF_SetStatus(status, TF_OK, "");
	else
		TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, "ckptfs: out of memory");
}

void fs_cleanup(TF_Filesystem *fs) { tfp_cache_free(cache_of(fs)); }

void fs_new_random_access_file(const TF_Filesystem *fs, const char *path, TF_RandomAccessFile *file,
			       TF_Status *status)
{
	struct open_file *f = static_cast<struct open_file *>(calloc(1, sizeof(*f)));
	char err[2048] = "";
	int rc;

	if (!f || !(f->path = strdup(path))) {
		free(f);
		TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, "ckptfs: out of memory");
		return;
	}
	/* an index: the data files follow its plan while it is open */
	rc = tfp_open(cache_of(fs), path, &f->node, err, sizeof(err));
	if (rc == 0 && f->node.file < 0) {
		tfp_close(&f->node);
		set_not_file(status, path);
	} else if (rc) {
		TF_SetStatus(status, code_of(rc), err);
	} else {
		TF_SetStatus(status, TF_OK, "");
		file->plugin_file = f;
		return;
	}
	free(f->path);
	free(f);
}

void fs_path_exists(const TF_Filesystem *fs, const char *path, TF_Status *status)
{
	struct tfp_node node;

	if (resolve(fs, path, &node, status) == 0)
		tfp_plan_unref(node.plan);
}

void fs_stat(const TF_Filesystem *fs, const char *path, TF_FileStatistics *stats, TF_Status *status)
{
	struct tfp_node node;

	if (resolve(fs, path, &node, status))
		return;
	stats->is_directory = node.file < 0;
	stats->length = node.file < 0
				? 0
				: static_cast<int64_t>(view_file_at(tfp_plan_view(node.plan),
								    static_cast<size_t>(node.file))
							       ->size);
	stats->mtime_nsec = tfp_plan_mtime_nsec(node.plan);
	tfp_plan_unref(node.plan);
}

bool fs_is_directory(const TF_Filesystem *fs, const char *path, TF_Status *status)
{
	struct tfp_node node;
	bool dir;

	if (resolve(fs, path, &node, status))
		return false;
	dir = node.file < 0;
	tfp_plan_unref(node.plan);
	if (!dir)
		set_not_dir(status, path);
	return dir;
}

int64_t fs_get_file_size(const TF_Filesystem *fs, const char *path, TF_Status *status)
{
	TF_FileStatistics st = {};

	fs_stat(fs, path, &st, status);
	if (TF_GetCode(status) != TF_OK)
		return -1;
	if (st.is_directory) {
		set_not_file(status, path);
		return -1;
	}
	return st.length;
}

int fs_get_children(const TF_Filesystem *fs, const char *path, char ***entries, TF_Status *status)
{
	struct tfp_node node;
	const struct view *v;
	size_t n;

	if (resolve(fs, path, &node, status))
		return -1;
	if (node.file >= 0) {
		tfp_plan_unref(node.plan);
		set_not_dir(status, path);
		return -1;
	}
	v = tfp_plan_view(node.plan);
	n = view_num_files(v);
	/* a few files (checkpoint, index, data shards): never near INT_MAX */
	*entries = static_cast<char **>(calloc(n ? n : 1, sizeof(**entries)));
	for (size_t i = 0; *entries && i < n; i++) {
		(*entries)[i] = strdup(view_file_at(v, i)->name);
		if (!(*entries)[i]) {
			for (size_t j = 0; j < i; j++)
				free((*entries)[j]);
			free(*entries);
			*entries = NULL;
		}
	}
	tfp_plan_unref(node.plan);
	if (!*entries) {
		TF_SetStatus(status, TF_RESOURCE_EXHAUSTED, "ckptfs: out of memory");
		return -1;
	}
	return static_cast<int>(n);
}

int fs_get_matching_paths(const TF_Filesystem *fs, const char *glob, char ***entries,
			  TF_Status *status)
{
	char err[2048] = "";
	size_t n = 0;
	int rc = tfp_glob(cache_of(fs), glob, entries, &n, err, sizeof(err));

	if (rc) {
		TF_SetStatus(status, code_of(rc), err);
		return -1;
	}
	TF_SetStatus(status, TF_OK, "");
	return static_cast<int>(n); /* a merged directory holds a few files */
}

/*
 * TensorFlow's default keeps only the URI's path: "ckptfs://data/m.conf"
 * (two slashes) would silently become "/m.conf". Keeping everything after
 * the scheme lets tfp_resolve say the path must be absolute.
 */
char *fs_translate_name(const TF_Filesystem *, const char *uri)
{
	static const char scheme[] = "ckptfs://";

	if (!strncmp(uri, scheme, sizeof(scheme) - 1))
		uri += sizeof(scheme) - 1;
	return strdup(uri); /* freed by TensorFlow with plugin_memory_free */
}

/* Everything that writes: refused, naming ckptfs and the path. */
void fs_new_writable_file(const TF_Filesystem *, const char *path, TF_WritableFile *,
			  TF_Status *status)
{
	set_read_only(status, "create", path);
}

void fs_new_appendable_file(const TF_Filesystem *, const char *path, TF_WritableFile *,
			    TF_Status *status)
{
	set_read_only(status, "append to", path);
}

void fs_create_dir(const TF_Filesystem *, const char *path, TF_Status *status)
{
	set_read_only(status, "create directory", path);
}

void fs_delete_file(const TF_Filesystem *, const char *path, TF_Status *status)
{
	set_read_only(status, "delete", path);
}

void fs_delete_dir(const TF_Filesystem *, const char *path, TF_Status *status)
{
	set_read_only(status, "delete directory", path);
}

void fs_delete_recursively(const TF_Filesystem *, const char *path, uint64_t *undeleted_files,
			   uint64_t *undeleted_dirs, TF_Status *status)
{
	*undeleted_files = 0;
	*undeleted_dirs = 1;
	set_read_only(status, "delete", path);
}

void fs_rename_file(const TF_Filesystem *, const char *src, const char *, TF_Status *status)
{
	set_read_only(status, "rename", src);
}

void fs_copy_file(const TF_Filesystem *, const char *, const char *dst, TF_Status *status)
{
	set_read_only(status, "copy to", dst);
}

/* ---------------------------------------------------- random access file */

void file_cleanup(TF_RandomAccessFile *file)
{
	struct open_file *f = static_cast<struct open_file *>(file->plugin_file);

	tfp_close(&f->node);
	free(f->path);
	free(f);
}

int64_t file_read(const TF_RandomAccessFile *file, uint64_t offset, size_t n, char *buffer,
		  TF_Status *status)
{
	/* ours, and TensorFlow's const is about the file's contents: the
	 * read-ahead state may change */
	struct open_file *f = static_cast<struct open_file *>(file->plugin_file);
	char err[1024] = "";
	int64_t got = tfp_read(f->node.plan, static_cast<size_t>(f->node.file), offset, n, buffer,
			       &f->ra, f->path, err, sizeof(err));

	if (got < 0) {
		TF_SetStatus(status, code_of(static_cast<int>(got)), err);
		return -1;
	}
	if (static_cast<uint64_t>(got) < n)
		TF_SetStatus(status, TF_OUT_OF_RANGE, "read past the end of a ckptfs file");
	else
		TF_SetStatus(status, TF_OK, "");
	return got;
}

/* ---------------------------------------------------- writable file (never) */

/* new_writable_file never succeeds, but TensorFlow wants the table. */
void wfile_cleanup(TF_WritableFile *) {}

void wfile_refuse(const TF_WritableFile *, TF_Status *status)
{
	TF_SetStatus(status, TF_PERMISSION_DENIED, "ckptfs is read-only");
}

void wfile_append(const TF_WritableFile *f, const char *, size_t, TF_Status *status)
{
	wfile_refuse(f, status);
}

int64_t wfile_tell(const TF_WritableFile *f, TF_Status *status)
{
	wfile_refuse(f, status);
	return -1;
}

template <typename T> T *zeroed() { return static_cast<T *>(calloc(1, sizeof(T))); }

} // namespace

extern "C" TF_CAPI_EXPORT void TF_InitPlugin(TF_FilesystemPluginInfo *info)
{
	TF_FilesystemPluginOps *ops = zeroed<TF_FilesystemPluginOps>();

	info->plugin_memory_allocate = malloc;
	info->plugin_memory_free = free;
	info->num_schemes = 0;
	info->ops = ops;
	if (!ops)
		return;
	TF_SetFilesystemVersionMetadata(ops);
	ops->scheme = strdup("ckptfs");
	ops->filesystem_ops = zeroed<TF_FilesystemOps>();
	ops->random_access_file_ops = zeroed<TF_RandomAccessFileOps>();
	ops->writable_file_ops = zeroed<TF_WritableFileOps>();
	if (!ops->scheme || !ops->filesystem_ops || !ops->random_access_file_ops ||
	    !ops->writable_file_ops)
		return; /* no scheme registered; TensorFlow frees what is set */
	info->num_schemes = 1;

	TF_FilesystemOps *f = ops->filesystem_ops;
	f->init = fs_init;
	f->cleanup = fs_cleanup;
	f->new_random_access_file = fs_new_random_access_file;
	f->new_writable_file = fs_new_writable_file;
	f->new_appendable_file = fs_new_appendable_file;
	f->create_dir = fs_create_dir;
	f->recursively_create_dir = fs_create_dir;
	f->delete_file = fs_delete_file;
	f->delete_dir = fs_delete_dir;
	f->delete_recursively = fs_delete_recursively;
	f->rename_file = fs_rename_file;
	f->copy_file = fs_copy_file;
	f->path_exists = fs_path_exists;
	f->stat = fs_stat;
	f->is_directory = fs_is_directory;
	f->get_file_size = fs_get_file_size;
	f->get_children = fs_get_children;
	f->translate_name = fs_translate_name;
	/*
	 * Not TensorFlow's default over get_children: that one drops the
	 * error of a broken mapping and finds nothing, so load_checkpoint
	 * would say "no matching files" instead of FILE:LINE:COL.
	 */
	f->get_matching_paths = fs_get_matching_paths;

	ops->random_access_file_ops->cleanup = file_cleanup;
	ops->random_access_file_ops->read = file_read;

	TF_WritableFileOps *w = ops->writable_file_ops;
	w->cleanup = wfile_cleanup;
	w->append = wfile_append;
	w->tell = wfile_tell;
	w->flush = wfile_refuse;
	w->sync = wfile_refuse;
	w->close = wfile_refuse;
}
