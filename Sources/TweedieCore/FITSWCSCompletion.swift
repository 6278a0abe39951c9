// Completing a carried WCS for the array it is written with (FITS WCS paper I §2.2, II §3.1),
// so that wcslib-based readers (astropy, ds9) read it without fixing anything:
// - axes of the written array beyond the WCS's own (a band cube's NAXIS3, a batch's NAXIS4) get
//   a linear axis in pixel units: CTYPE3 = 'BAND' (plane index, CRPIX = CRVAL = 1, step 1 as
//   CD3_3 when the WCS uses CD, else CDELT3), CTYPE4 = 'IMAGE' likewise; WCSAXES is raised to match;
// - a celestial WCS without RADESYS gets the frame wcslib resolves for it (ICRS without an
//   equinox, FK4 before 1984, FK5 after), with EQUINOX when the frame has one;
// - DATE-OBS is written in ISO 8601 with its MJD-OBS (wcslib's datfix, as astropy runs it), so an
//   old 'DD/MM/YY' date or a date without MJD-OBS is not "fixed" by the reader.
import CWCSLIB
import Foundation

extension FITSHeader {
    /// This header with its WCS completed for an array of `axisCount` axes (see the file comment);
    /// unchanged when it has no WCS.
    public func completingWCS(axisCount: Int) -> FITSHeader {
        var h = self
        h.fixObservationDate()
        guard let w = try? WCS.parse(h) else { return h }
        if w.isCelestial && self["RADESYS"] == nil && !w.radesys.isEmpty {
            h.cards.append(FITSCard(keyword: "RADESYS", value: .string(w.radesys), comment: "reference frame"))
            if let equinox = w.equinox, self["EQUINOX"] == nil {
                h.cards.append(FITSCard(keyword: "EQUINOX", value: .double(equinox), comment: "equinox of the frame, years"))
            }
        }
        guard axisCount > w.axisCount else { return h }
        let usesCD = cards.contains { $0.keyword.hasPrefix("CD") && $0.keyword.contains("_") }
        if let i = h.cards.firstIndex(where: { $0.keyword == "WCSAXES" }) { h.cards[i].value = .int(axisCount) }
        for k in (w.axisCount + 1)...axisCount where self["CTYPE\(k)"] == nil {
            let (type, meaning) = k == 3 ? ("BAND", "plane index along NAXIS3") : ("IMAGE", "image index along NAXIS\(k)")
            h.cards.append(FITSCard(keyword: "CTYPE\(k)", value: .string(type), comment: meaning))
            h.cards.append(FITSCard(keyword: "CRPIX\(k)", value: .double(1)))
            h.cards.append(FITSCard(keyword: "CRVAL\(k)", value: .double(1)))
            h.cards.append(FITSCard(keyword: usesCD ? "CD\(k)_\(k)" : "CDELT\(k)", value: .double(1)))
        }
        return h
    }

    /// DATE-OBS in ISO 8601 and MJD-OBS from it (wcslib datfix), when DATE-OBS is given without MJD-OBS.
    mutating func fixObservationDate() {
        guard let date = string("DATE-OBS"), !date.isEmpty, self["MJD-OBS"] == nil else { return }
        var fixed = [CChar](repeating: 0, count: 72)
        var mjd = 0.0
        let status = tweedie_datfix(date, &fixed, &mjd)
        guard status <= 0, mjd.isFinite, mjd != UNDEFINED else { return }
        let iso = String(cString: fixed).trimmingCharacters(in: .whitespaces)
        if let i = cards.firstIndex(where: { $0.keyword == "DATE-OBS" }) {
            cards[i].value = .string(iso)
            cards.insert(FITSCard(keyword: "MJD-OBS", value: .double(mjd), comment: "MJD of DATE-OBS"), at: i + 1)
        }
    }
}
