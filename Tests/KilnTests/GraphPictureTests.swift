import Foundation
import Kiln
import KilnCodegen
import KilnCompiler
import KilnIR
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `kiln inspect --graph FILE.svg`: the optimized graph drawn with branches side by side, which a
/// browser renders.
@Suite struct GraphPictureTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static func picture() throws -> (graph: Graph, picture: GraphPicture) {
        let optimized = try Compiler().optimize(MemoryPlanTests.network(), options: CompileOptions())
        return (optimized, GraphPicture(optimized, plan: KernelPlan(graph: optimized, isa: .avx2)))
    }

    @Test func branchesStandSideBySide() throws {
        let (graph, picture) = try Self.picture()
        #expect(picture.boxes.count == graph.inputs.count + graph.nodes.count)
        func box(_ name: String) throws -> GraphPicture.Box { try #require(picture.boxes.first { $0.fullName == name }) }
        // The two convolutions reading the pooled result share a level; their sum is one below.
        #expect(try box("branch").level == box("other").level)
        #expect(try box("branch").column != box("other").column)
        #expect(try box("join").level == box("branch").level + 1)
        #expect(try box("out").isOutput && !box("join").isOutput)
        #expect(try box("wide").details.contains { $0.hasPrefix("arena @") })
        #expect(try box("wide").details.contains { $0.hasPrefix("f32_conv3x3s1_avx2") })
    }

    @Test func theSVGIsWellFormedWithABoxPerLayerAndALinePerOperand() throws {
        let (_, picture) = try Self.picture()
        let svg = picture.svg
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(svg.components(separatedBy: "<g class=\"box\">").count - 1 == picture.boxes.count)
        #expect(svg.components(separatedBy: "class=\"edge\"").count - 1 == picture.boxes.map(\.operands.count).reduce(0, +))
    }

    /// Headless Chromium renders the picture to a PNG of the picture's size.
    @Test(.enabled(if: chromium != nil, "needs Chromium (apt-get install -y chromium)"))
    func chromiumRendersIt() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let svg = directory.appendingPathComponent("graph.svg")
        try Self.picture().picture.svg.write(to: svg, atomically: true, encoding: .utf8)
        let png = directory.appendingPathComponent("graph.png")
        let run = try CommandLineTool.run(
            URL(fileURLWithPath: try #require(Self.chromium)),
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,900",
                "--screenshot=\(png.path)", svg.absoluteString,
            ])
        #expect(run.status == 0, "\(run.output)")
        let bytes = try Data(contentsOf: png)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && bytes.count > 5_000, "\(bytes.count) bytes")
    }

    @Test func commandLineDrawsTheGraph() throws {
        let kiln = try #require(CommandLineTool.kiln)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let picture = directory.appendingPathComponent("graph.svg")
        let model = KerasModelTests.fixtures.appendingPathComponent("keras_cnn.tflite").path
        let inspect = try CommandLineTool.run(kiln, ["inspect", model, "--graph", picture.path])
        #expect(inspect.status == 0 && inspect.output.contains("graph drawn in"), "\(inspect.output)")
        #expect(try String(contentsOf: picture, encoding: .utf8).contains("<g class=\"box\">"))
    }
}
