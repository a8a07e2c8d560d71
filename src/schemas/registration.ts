import * as z from "../lib/zod";
import { MESSAGES } from "../errors";
import { clearableText, text, uuid, wire } from "./common";
import { website } from "./organization";
import { SignedInUser } from "./sessions";
import { email, password, USER_EXAMPLE } from "./users";

// Self-registration in the shapes of Flashback's client (RegisterBody, RegisterResponse,
// ResendVerificationEmailResponse).

export const RegisterBody = z
  .strictObject({
    email,
    password,
    firstName: text(1, 100),
    lastName: text(1, 100),
    companyName: text(1, 200).openapi({ description: "The new organization's name" }),
    companyWebsite: website.optional(),
    website: website.optional().openapi({ description: "Used when companyWebsite is absent" }),
    phone: clearableText(200).optional(),
    address1: clearableText(200).optional(),
    address2: clearableText(200).optional(),
    city: clearableText(200).optional(),
    state: clearableText(200).optional(),
    zipcode: clearableText(200).optional(),
    country: clearableText(200).optional(),
    isBusiness: z.boolean(),
    // Flashback's activation links for pre-provisioned accounts: accepted, not used here.
    activationUid: text(0, 200).optional(),
    activationToken: text(0, 512).optional(),
  })
  .openapi("Register", {
    example: {
      email: "grace@hopper.example",
      password: "Str0ng-pass",
      firstName: "Grace",
      lastName: "Hopper",
      companyName: "Hopper Labs",
      isBusiness: true,
    },
  });

export const RegisterResponse = z
  .strictObject({
    success: z.literal(true),
    message: wire.text(500),
    verificationTokenId: wire.id.openapi({ description: "For POST /user/resend-verification/{verificationTokenId}" }),
    user: SignedInUser,
  })
  .openapi("RegisterResponse");

export const REGISTER_EXAMPLE = {
  success: true,
  message: MESSAGES.registered,
  verificationTokenId: "0196f1b2-7c3a-7d4e-8f10-2a3b4c5d6e90",
  user: { id: USER_EXAMPLE.id, email: USER_EXAMPLE.email, name: USER_EXAMPLE.name, orgId: USER_EXAMPLE.orgId, orgRole: 255 },
};

export const VerificationIdParams = z.object({
  verificationTokenId: uuid.openapi({ param: { name: "verificationTokenId", in: "path" } }),
});
