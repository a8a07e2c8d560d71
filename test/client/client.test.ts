import { describe, expect, it } from "vitest";
import { createOrgApiClient } from "../../src/client";
import { checkedFetch } from "../helpers/api";
import { createOrg } from "../helpers/fixtures";
import { userRow } from "../helpers/snapshot";

// The typed client against the real worker: every call below is checked by the compiler
// against openapi.json, and every answer by the contract check (checkedFetch) and the assertions.
function clientFor(token: string) {
  return createOrgApiClient({ baseUrl: "https://api.test", token, fetch: checkedFetch });
}

describe("the typed client", () => {
  it("sends the newest bookmark it was answered with, so it reads its own writes from any replica", async () => {
    const org = await createOrg();
    const sent: (string | null)[] = [];
    const answered: string[] = [];
    const api = createOrgApiClient({
      baseUrl: "https://api.test",
      token: org.users.OWNER.token,
      fetch: async (request: Request) => {
        sent.push(request.headers.get("x-d1-bookmark"));
        const response = await checkedFetch(request);
        answered.push(response.headers.get("x-d1-bookmark") as string);
        return response;
      },
    });
    await api.PUT("/organization/{orgId}", { params: { path: { orgId: org.id } }, body: { city: "Bergen" } });
    const read = await api.GET("/organization/{orgId}", { params: { path: { orgId: org.id } } });
    expect(read.data?.data.city).toBe("Bergen");
    expect(sent).toEqual([null, answered[0]]);
    expect(answered[0]).toMatch(/^[0-9a-f]{8}-/);
  });

  it("reads the organization and pages through users", async () => {
    const org = await createOrg();
    const api = clientFor(org.users.OWNER.token);

    const { data: organization, response } = await api.GET("/organization/{orgId}", { params: { path: { orgId: org.id } } });
    expect(response.status).toBe(200);
    expect(organization?.data.id).toBe(org.id);

    const first = await api.GET("/organization/users", { params: { query: { limit: 3 } } });
    expect(first.data?.data).toHaveLength(3);
    expect(first.data?.total).toBe(5);
    const cursor = first.data?.nextCursor ?? undefined;
    const second = await api.GET("/organization/users", { params: { query: { limit: 3, cursor } } });
    expect(second.data?.data.map((u) => u.id)).toEqual([org.users.BILLING.id, org.users.USER.id]);
    expect(second.data?.nextCursor).toBeNull();
  });

  it("creates, updates, deletes and reactivates a user, with typed errors", async () => {
    const org = await createOrg();
    const api = clientFor(org.users.ADMINISTRATOR.token);

    const created = await api.POST("/organization/users", {
      body: { email: "typed.client@example.com", password: "Typed-client-1", firstName: "Ty", lastName: "Ped", orgRole: 2 },
    });
    expect(created.response.status).toBe(201);
    const id = created.data?.data.id as string;
    expect(created.data?.data).toMatchObject({ email: "typed.client@example.com", orgRoleDescription: "WORKSPACES" });

    const fetched = await api.GET("/organization/users/{userId}", { params: { path: { userId: id } } });
    expect(fetched.data).toMatchObject({ id, name: "Ty" });

    const updated = await api.PUT("/organization/users/{userId}", {
      params: { path: { userId: id } },
      body: { lastName: "Checked" },
    });
    expect(updated.data?.data.lastName).toBe("Checked");

    const deleted = await api.DELETE("/organization/users/{userId}", { params: { path: { userId: id } } });
    expect(deleted.data?.message).toBe("User deleted successfully");
    expect((await userRow(id))?.deleted_at).not.toBeNull();

    const activated = await api.POST("/organization/users/{userId}/activate", { params: { path: { userId: id } } });
    expect(activated.data?.data.deletedAt).toBeNull();

    const conflict = await api.POST("/organization/users", {
      body: { email: "TYPED.client@example.com", password: "Typed-client-1", firstName: "Ty", lastName: "Ped" },
    });
    expect(conflict.response.status).toBe(409);
    expect(conflict.error?.code).toBe("conflict");
  });
});
