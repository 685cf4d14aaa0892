// Java's PKIX validation with OCSP revocation checking against a jpki-fast responder, as a
// relying party configures it (README: "Pointing clients at it"). Run with the source launcher:
//   java OcspCheck.java URL CA_PEM CERT_DER NONCE(true|false)
// Prints "good", "revoked <reason>" or "failed <reason>: <message>".
import java.io.FileInputStream;
import java.net.URI;
import java.security.Security;
import java.security.cert.*;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

public class OcspCheck {
    public static void main(String[] args) throws Exception {
        Security.setProperty("ocsp.enable", "true");
        // The certificates' authorityInfoAccess names J-LIS's responder: send OCSP here instead.
        Security.setProperty("ocsp.responderURL", args[0]);
        System.setProperty("jdk.security.certpath.ocspNonce", args[3]);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        X509Certificate ca, cert;
        try (FileInputStream in = new FileInputStream(args[1])) { ca = (X509Certificate) cf.generateCertificate(in); }
        try (FileInputStream in = new FileInputStream(args[2])) { cert = (X509Certificate) cf.generateCertificate(in); }
        CertPathValidator validator = CertPathValidator.getInstance("PKIX");
        PKIXRevocationChecker checker = (PKIXRevocationChecker) validator.getRevocationChecker();
        checker.setOcspResponder(URI.create(args[0]));
        // OCSP only: no fallback to CRL distribution points.
        checker.setOptions(EnumSet.of(PKIXRevocationChecker.Option.NO_FALLBACK, PKIXRevocationChecker.Option.ONLY_END_ENTITY));
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
        params.addCertPathChecker(checker);
        // JPKI certificates mark certificatePolicies critical, with a CPS qualifier: accept it.
        params.setPolicyQualifiersRejected(false);
        try {
            validator.validate(cf.generateCertPath(List.of(cert)), params);
            System.out.println("good");
        } catch (CertPathValidatorException e) {
            if (e.getReason() == CertPathValidatorException.BasicReason.REVOKED && e.getCause() instanceof CertificateRevokedException r) {
                System.out.println("revoked " + r.getRevocationReason());
            } else {
                System.out.println("failed " + e.getReason() + ": " + e.getMessage());
            }
        }
    }
}
