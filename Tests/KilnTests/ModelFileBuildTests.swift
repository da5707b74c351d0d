import Foundation
import KilnCompiler
import Testing

/// `kiln-build`'s command line, as KilnPlugin writes it, and the mistakes it rejects.
@Suite struct ModelFileBuildTests {
    @Test func pluginCommandLinesParse() throws {
        let bundle = try ModelFileBuild(arguments: [
            "/app/Model.swift", "--swiftc", "/usr/bin/swiftc", "--linker", "/usr/bin/ld.lld", "--cache", "/work/Cache",
            "--dsl-sources", "/kiln/Sources", "--artifact", "/work/Model.kiln", "--swift-output", "/work/Model+Kiln.swift",
        ])
        #expect(bundle.modelFile.path == "/app/Model.swift")
        #expect(
            bundle.output
                == .bundle(
                    artifact: URL(fileURLWithPath: "/work/Model.kiln"), swiftAPI: URL(fileURLWithPath: "/work/Model+Kiln.swift")))
        #expect(bundle.swiftc?.path == "/usr/bin/swiftc" && bundle.linker?.path == "/usr/bin/ld.lld")
        #expect(bundle.cache?.path == "/work/Cache" && bundle.dslSources?.path == "/kiln/Sources")
        let assembly = try ModelFileBuild(arguments: ["M.swift", "--static", "--artifacts", "/s", "--header-directory", "/i"])
        #expect(assembly.output == .assembly(directory: URL(fileURLWithPath: "/s"), headers: URL(fileURLWithPath: "/i")))
        #expect(assembly.swiftc == nil && assembly.cache == nil)
    }

    @Test(arguments: [
        (["--artifact", "a.kiln", "--swift-output", "a.swift"], "no model file given"),
        (["a.swift", "b.swift", "--artifact", "a.kiln", "--swift-output", "a.swift"], "give one model file, not 2"),
        (["a.swift", "--artifact"], "--artifact needs a value"),
        (["a.swift", "--artifact", "a.kiln"], "--artifact FILE and --swift-output FILE are required without --static"),
        (["a.swift", "--static"], "--artifacts DIRECTORY is required with --static"),
        (["a.swift", "--static", "--artifacts", "s", "--artifact", "a.kiln"], "are not used with --static"),
        (["a.swift", "--artifact", "a", "--swift-output", "b", "--header-directory", "h"], "used only with --static"),
        (["a.swift", "--cache", "c", "--cache", "d"], "--cache is given twice"),
        (["a.swift", "--verbose"], "unknown option '--verbose'"),
    ])
    func mistakesAreNamedWithTheUsage(arguments: [String], problem: String) {
        let error = #expect(throws: ModelFileBuild.UsageError.self) { try ModelFileBuild(arguments: arguments) }
        #expect(error?.description.contains(problem) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("usage: kiln-build") == true)
    }
}
