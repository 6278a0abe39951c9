// `tweedie preview` run as a process: it writes a PNG of the right size (one
// panel per band), and a failure leaves no file.
import Foundation
import Testing
import TweedieCore

@Suite struct PreviewCommandTests {
    @Test(arguments: ["asinh", "linear", "zscale"])
    func writesAPNGOfTheKPNOImage(_ stretch: String) throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("m51.png").path
        let r = try CLIRunner.run(["preview", "../shared/data/real/m51_kpno_B_devpix.fits", "-o", out, "--stretch", stretch])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        #expect(r.stdout.contains(stretch))
        let png = try PNGPreview.read(out)
        #expect(png.width == 512 && png.height == 512)
        // Not a blank picture: the galaxy is brighter than the corner sky.
        #expect(png[256, 256] > png[5, 5])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["m51.png"])
    }

    @Test func figureIsLabelledAndLargerThanThePixels() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("cube.png").path
        let r = try CLIRunner.run(["preview", CLIRunner.coreFixture("cube3.fits"), "-o", out, "--figure"])
        #expect(r.status == 0 && r.stdout.contains("labelled figure of 3 panels"), "\(r)")
        let png = try PNGPreview.readRGB(out)
        // Three 12 × 9 bands magnified round(256 / 12) = 21 times, with titles above and colour bars below.
        #expect(png.width > 3 * 12 * 21 && png.height > 9 * 21 + 40)
        var ink = 0
        for y in 0..<20 { for x in 0..<png.width where png[x, y] != (255, 255, 255) { ink += 1 } }
        #expect(ink > 60)
    }

    @Test func cubeGetsOnePanelPerBand() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("cube.png").path
        let r = try CLIRunner.run(["preview", CLIRunner.coreFixture("cube3.fits"), "--output", out, "--stretch", "linear"])
        #expect(r.status == 0, "\(r)")
        let png = try PNGPreview.read(out)
        #expect(png.width == 3 * 12 + 2 && png.height == 9)
        #expect((0..<9).allSatisfy { png[12, $0] == 255 && png[25, $0] == 255 })
    }

    @Test func failuresLeaveNoFile() throws {
        // Unwritable directory (/sys refuses new files even for root).
        let sysOut = "/sys/tweedie-cli-test.png"
        let r = try CLIRunner.run(["preview", CLIRunner.coreFixture("cube3.fits"), "-o", sysOut])
        #expect(r.status != 0 && r.stderrLines.count == 1 && r.stderrLines[0].hasPrefix("error: \(sysOut): "), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: sysOut))
        // Bad input into a writable directory: nothing written there.
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let bad = try CLIRunner.run(["preview", CLIRunner.coreFixture("truncated.fits"), "-o", dir.appendingPathComponent("t.png").path])
        #expect(bad.status != 0 && bad.stderrLines.count == 1, "\(bad)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        // An all-NaN image: one clear line, no blank PNG.
        var nan = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 8, width: 8))
        nan.data = [Float](repeating: .nan, count: 64)
        let nanPath = dir.appendingPathComponent("nan.fits").path
        try FITSWriter.write(nan, to: nanPath)
        let blank = try CLIRunner.run(["preview", nanPath, "-o", dir.appendingPathComponent("nan.png").path])
        #expect(blank.status != 0 && blank.stderrLines.count == 1 && blank.stderr.contains("no finite pixel"), "\(blank)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("nan.png").path))
        try FileManager.default.removeItem(atPath: nanPath)
        // Not a .png name: rejected before anything runs.
        let name = try CLIRunner.run(["preview", CLIRunner.coreFixture("cube3.fits"), "-o", dir.appendingPathComponent("t.jpg").path])
        #expect(name.status != 0 && name.stderr.contains(".png"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
