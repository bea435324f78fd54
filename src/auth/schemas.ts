import { Type } from 'typebox'

export const Email = Type.String({
  minLength: 3,
  maxLength: 320,
  description: 'Trimmed; A–Z compared case-insensitively (other characters exactly).',
})
export const Password = Type.String({
  minLength: 8,
  maxLength: 256,
  description: '8 to 256 characters; no composition rules; the most common passwords are refused.',
})

export const Credentials = Type.Object({ email: Email, password: Password }, { additionalProperties: false })
/** Login accepts any password length so that a too-short guess is simply wrong (401), not a hint. */
export const LoginBody = Type.Object(
  { email: Email, password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
)

export const User = Type.Object({
  id: Type.Integer(),
  email: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
})

export const TokenPair = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Access token lifetime in seconds.' }),
})

export const RefreshBody = Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false })

export const ChangePasswordBody = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: 1024 }), newPassword: Password },
  { additionalProperties: false },
)

export const DeleteAccountBody = Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false })
