#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NablaSession

// The command line: parse the arguments, hand the work to NablaSession, exit with its status.
exit(CommandLineTool.main(Array(CommandLine.arguments.dropFirst())))
