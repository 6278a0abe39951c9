// The file loaders a spec's steps need (PSF images, antenna configurations), with relative paths
// taken from the spec file's folder.
import Foundation
import TweedieCore

extension OperatorSpec {
    /// Reads the PSF files a spec names (`psf: {file: …, hdu: …}`); relative paths from the spec's folder.
    public static func psfLoader(relativeTo specPath: String) -> PSFImageLoader {
        let dir = URL(fileURLWithPath: specPath).deletingLastPathComponent()
        return { path, hdu in
            let full = path.hasPrefix("/") ? path : dir.appendingPathComponent(path).path
            return try FITSReader.read(full, hdu: hdu.map(FITSHDUSelector.init(parsing:)) ?? .firstImage)
        }
    }

    /// Reads the antenna configurations a spec's `uv` steps name; relative paths from the spec's folder.
    public static func antennaLoader(relativeTo specPath: String) -> AntennaConfigurationLoader {
        let dir = URL(fileURLWithPath: specPath).deletingLastPathComponent()
        return { path in
            try AntennaConfiguration(contentsOf: path.hasPrefix("/") ? path : dir.appendingPathComponent(path).path)
        }
    }
}
