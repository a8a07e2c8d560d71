import { describe, expect, it } from "vitest";
import { answerText, call, expectError, ORGANIZATION_FIELDS } from "../helpers/api";
import { createOrg, createTwoOrgs, type OrgFixture } from "../helpers/fixtures";
import { expectedOrganization, expectUnchanged, orgRow } from "../helpers/snapshot";

function put(orgId: string, token: string, body: unknown) {
  return call("PUT", `/organization/${orgId}`, { token, body });
}

// If-Match and REQUIRE_IF_MATCH: test/http/preconditions.test.ts.
describe("updateOrganization: PUT /organization/{orgId}", () => {
  describe("happy path", () => {
    it("trims strings, returns the organization after the update and stores exactly that", async () => {
      const org = await createOrg();
      const res = await put(org.id, org.users.OWNER.token, {
        name: "  Acme Corp  ",
        city: "\t Paris \n",
        phone: " +33 1 23 45 67 89 ",
        website: "  https://acme.example/about  ",
      });

      expect(res.status, res.text).toBe(200);
      expect(res.body.success).toBe(true);
      expect(res.body.message).toBe("Organization updated successfully");
      expect(Object.keys(res.body.data).sort()).toEqual(ORGANIZATION_FIELDS);
      expect(res.body.data).toMatchObject({
        id: org.id,
        name: "Acme Corp",
        city: "Paris",
        phone: "+33 1 23 45 67 89",
        website: "https://acme.example/about",
      });
      const row = await orgRow(org.id);
      expect(row).toMatchObject({
        name: "Acme Corp",
        city: "Paris",
        phone: "+33 1 23 45 67 89",
        website: "https://acme.example/about",
      });
      expect(res.body.data).toEqual(expectedOrganization(row));
    });

    it("leaves every field that was not sent unchanged", async () => {
      const org = await createOrg();
      const first = await put(org.id, org.users.OWNER.token, {
        address1: "1 Rue de la Paix",
        city: "Paris",
        zipcode: "75002",
        country: "FR",
        is_business: true,
      });
      expect(first.status, first.text).toBe(200);
      const before = await orgRow(org.id);

      const res = await put(org.id, org.users.OWNER.token, { phone: "555-0100" });

      expect(res.status, res.text).toBe(200);
      const after = await orgRow(org.id);
      // The version, its ETag, advances with the update.
      expect(after).toEqual({ ...before, phone: "555-0100", updated_at: after.updated_at, version: before.version + 1 });
      expect(res.body.data).toEqual(expectedOrganization(after));
      expect(res.body.data).toMatchObject({
        address1: "1 Rue de la Paix",
        city: "Paris",
        zipcode: "75002",
        country: "FR",
        is_business: true,
      });
    });

    it("clears an optional field with null, with an empty string and with a blank string", async () => {
      const org = await createOrg();
      const seeded = await put(org.id, org.users.OWNER.token, { city: "Oslo", state: "Oslo", website: "http://a.example" });
      expect(seeded.status, seeded.text).toBe(200);

      const res = await put(org.id, org.users.OWNER.token, { city: null, state: "", website: "   " });

      expect(res.status, res.text).toBe(200);
      expect(res.body.data).toMatchObject({ city: null, state: null, website: null });
      expect(await orgRow(org.id)).toMatchObject({ city: null, state: null, website: null });
    });

    it("sets and unsets the booleans is_business and mfaEnforced", async () => {
      const org = await createOrg();
      const on = await put(org.id, org.users.OWNER.token, { is_business: true, mfaEnforced: true });
      expect(on.status, on.text).toBe(200);
      expect(on.body.data).toMatchObject({ is_business: true, mfaEnforced: true });
      expect(await orgRow(org.id)).toMatchObject({ is_business: 1, mfa_enforced: 1 });

      const off = await put(org.id, org.users.OWNER.token, { is_business: false });
      expect(off.status, off.text).toBe(200);
      expect(off.body.data).toMatchObject({ is_business: false, mfaEnforced: true });
      expect(await orgRow(org.id)).toMatchObject({ is_business: 0, mfa_enforced: 1 });
    });

    it("accepts http and https websites", async () => {
      const org = await createOrg();
      for (const website of ["http://example.com", "https://www.example.com/path?q=1#top", "HTTPS://EXAMPLE.COM"]) {
        const res = await put(org.id, org.users.OWNER.token, { website });
        expect(res.status, `${website}: ${res.text}`).toBe(200);
        expect(res.body.data.website).toBe(website);
        expect((await orgRow(org.id)).website).toBe(website);
      }
    });

    // Found by test/property: the document promises `format: uri` (RFC 3986), and a website outside
    // it used to be stored and answered, breaking every later answer's contract.
    it("accepts websites written as URIs: user info, port, percent-encoding, an xn-- host", async () => {
      const org = await createOrg();
      for (const website of ["https://user:pw@acme.example:8443/a%20b?x=%C3%A9&y=1#top", "http://xn--mnchen-3ya.example/"]) {
        const res = await put(org.id, org.users.OWNER.token, { website });
        expect(res.status, `${website}: ${res.text}`).toBe(200);
        expect(res.body.data.website).toBe(website);
        expect((await orgRow(org.id)).website).toBe(website);
      }
    });
  });

  describe("errors", () => {
    /** 400 validation_failed naming the website, and nothing written. */
    async function expectWebsiteRefused(org: OrgFixture, website: string) {
      const res = await expectUnchanged(() => put(org.id, org.users.OWNER.token, { website }));
      expectError(res, 400, "validation_failed");
      expect(
        res.body.details.map((d: { path: string }) => d.path),
        website,
      ).toContain("website");
    }

    it("refuses a website that is not a URI (non-ASCII, unencoded characters, a bad escape or port) with 400", async () => {
      const org = await createOrg();
      for (const website of [
        "https://münchen.example",
        "https://acme.example/\u{1F600}",
        "https://acme.example/a b",
        "https://acme.example/<script>",
        'https://acme.example/"q"',
        "https://acme.example/a{b}|c\\d^e`f",
        "https://acme.example/%zz",
        "https://acme.example/%4",
        "https://acme.example:80x/",
        "https://[::1/",
      ]) {
        await expectWebsiteRefused(org, website);
      }
    });

    it("refuses a website that is not an http(s) URL with 400 and changes nothing", async () => {
      const org = await createOrg();
      for (const website of [
        "ftp://example.com",
        "not a url",
        "example.com",
        "javascript:alert(1)",
        "https://",
        `https://${"a".repeat(200)}.example`,
      ]) {
        await expectWebsiteRefused(org, website);
      }
    });

    it("refuses an empty or over-long name and a non-boolean flag with 400 and changes nothing", async () => {
      const org = await createOrg();
      const bodies = [
        { name: "" },
        { name: "   " },
        { name: null },
        { name: "x".repeat(201) },
        { city: "c".repeat(201) },
        { is_business: "true" },
        { mfaEnforced: 1 },
      ];
      for (const body of bodies) {
        const res = await expectUnchanged(() => put(org.id, org.users.OWNER.token, body));
        expectError(res, 400, "validation_failed");
      }
    });

    it("accepts a 200-character name and refuses an empty body with 'No valid fields to update'", async () => {
      const org = await createOrg();
      const name = "n".repeat(200);
      const ok = await put(org.id, org.users.OWNER.token, { name });
      expect(ok.status, ok.text).toBe(200);
      expect((await orgRow(org.id)).name).toBe(name);

      const empty = await expectUnchanged(() => put(org.id, org.users.OWNER.token, {}));
      expectError(empty, 400, "bad_request", "No valid fields to update");
    });

    it("refuses server-owned fields such as domain, id and deletedAt", async () => {
      const org = await createOrg();
      for (const body of [
        { domain: "evil.example" },
        { id: crypto.randomUUID() },
        { deletedAt: null },
        { reposDisabled: true },
      ]) {
        const res = await expectUnchanged(() => put(org.id, org.users.OWNER.token, body));
        expectError(res, 400, "validation_failed");
      }
    });
  });

  describe("rules", () => {
    it("lets an ADMINISTRATOR update and refuses WORKSPACES with 403", async () => {
      const org = await createOrg();
      const ok = await put(org.id, org.users.ADMINISTRATOR.token, { city: "Bergen" });
      expect(ok.status, ok.text).toBe(200);
      expect((await orgRow(org.id)).city).toBe("Bergen");

      const refused = await expectUnchanged(() => put(org.id, org.users.WORKSPACES.token, { city: "Tromsø" }));
      expectError(
        refused,
        403,
        "forbidden",
        "Insufficient permissions: only OWNER and ADMINISTRATOR roles can modify organization",
      );
    });

    it("refuses another organization's id with 403 and leaves both organizations unchanged", async () => {
      const { a, b } = await createTwoOrgs();
      const foreign = await expectUnchanged(() => put(b.id, a.users.OWNER.token, { name: "Hijacked" }));
      expectError(foreign, 403, "forbidden");
      const unknown = await expectUnchanged(() => put(crypto.randomUUID(), a.users.OWNER.token, { name: "Hijacked" }));
      expectError(unknown, 403, "forbidden");
      expect(answerText(unknown)).toBe(answerText(foreign));
    });
  });
});
