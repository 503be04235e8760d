/*
 * malloc_trim(0) for the daemon: glibc returns freed memory to the system only from the top of
 * its heap; pages freed in the middle (a burst of small buffers, e.g. a catch-up served, interleaved
 * with long-lived allocations) stay resident for the process's life. malloc_trim() gives every
 * whole free page back (MADV_DONTNEED). Ruby's GC does the same after a major collection.
 * Exports trim(): true if memory was released. Built by tools/build.ts where a C compiler and
 * glibc exist; without it the daemon runs as before.
 */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value trim (napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released != 0, &result);
  return result;
}

NAPI_MODULE_INIT () {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
