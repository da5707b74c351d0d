import Foundation
import KilnCompiler

/// `kiln-build`: KilnPlugin's tool, compiling one model file per run (see `ModelFileBuild`).
///
/// Exit statuses: 0 success; 1 a model or file could not be used; 64 a wrong command line;
/// 128 + N after signal N.
@main
enum KilnBuild {
    static func main() {
        Cleanup.installSignalHandlers()
        let build: ModelFileBuild
        do {
            build = try ModelFileBuild(arguments: Array(CommandLine.arguments.dropFirst()))
        } catch {
            UserMessages.printError(error)
            exit(64)
        }
        do {
            let report = try build.run()
            UserMessages.printWarnings(report.warnings)
            for line in report.progress { print(line) }
        } catch {
            UserMessages.printError(error)
            exit(1)
        }
    }
}
