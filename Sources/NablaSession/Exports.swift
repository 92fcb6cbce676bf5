// The session is the one entry point: its clients (the REPL, the command line, the fuzz
// targets, the benchmarks) see the workspace type `Session` through this module.
@_exported import NablaRuntime
