/** A QR code for the terminal (device flow, MFA enrolment); stderr only. */
export async function renderQr(text: string): Promise<string> {
  const { default: qrcode } = await import('qrcode-terminal');
  return new Promise((resolve) => qrcode.generate(text, { small: true }, (out: string) => resolve(`${out}\n`)));
}
