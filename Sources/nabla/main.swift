#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NablaREPL

// The command line: parse the arguments, hand the work to NablaREPL, exit with its status.
exit(CommandLineTool.main(Array(CommandLine.arguments.dropFirst())))
