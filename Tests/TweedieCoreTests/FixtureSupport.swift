// Access to the committed test fixtures (Fixtures/, copied into the test
// bundle) and to the project's shared real data (../shared/data beside the
// repository root). The FITS fixtures and fits_expected.json are written by
// Fixtures/make_fits_fixtures.py (astropy); reference_values.json by
// Fixtures/make_reference_values.py (astropy / numpy).
import Foundation
import Testing
@testable import TweedieCore

enum Fixtures {
    /// The Fixtures directory inside the test bundle.
    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }
    /// Path of one fixture file.
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The repository root (three levels above this file).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// ../shared/data/real/<name> beside the repository.
    static func realData(_ name: String) -> String {
        repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/real/\(name)").path
    }

    /// A fresh empty directory for one test's outputs (removed by the caller with `removeDirectory`).
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tweedie-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func removeDirectory(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
}

/// fits_expected.json, as written by make_fits_fixtures.py.
struct ExpectedFITS: Decodable {
    struct Card: Decodable {
        var keyword: String
        var type: String
        var value: JSONValue
        var comment: String
    }
    struct Image: Decodable {
        var file: String
        var hdu: Int
        var extname: String?
        var bitpix: Int
        var naxes: [Int]
        var bands: [String]
        var values: [Double?]
        var null_count: Int
        var cards: [Card]
    }
    var astropy: String
    var width: Int
    var height: Int
    var images: [Image]

    static func load() throws -> ExpectedFITS {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("fits_expected.json"))
        return try JSONDecoder().decode(ExpectedFITS.self, from: data)
    }
}

/// A JSON scalar whose meaning is given by a separate type tag.
enum JSONValue: Decodable {
    case bool(Bool), number(Double), string(String)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else { self = .string(try c.decode(String.self)) }
    }
}
