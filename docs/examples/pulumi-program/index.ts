/**
 * A platform team's own Pulumi program using acme-rotation as a package: certificates renewed by
 * Secrets Manager rotation and deployed to ACM, wired straight into an ALB listener and a
 * CloudFront distribution — one stack, no ARNs copied by hand.
 *
 * The stack configuration needs aws:ignoreTags (see Pulumi.dev.yaml here) and `subnetIds`.
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { AcmeRotation } from 'acme-rotation';

const config = new pulumi.Config();
const zone = aws.route53.getZoneOutput({ name: 'example.com' });

const certs = new AcmeRotation('certs', {
  certificates: [
    // CloudFront takes certificates from us-east-1; so does the load balancer below.
    { name: 'web', domains: ['example.com', '*.example.com'], acm: { regions: ['us-east-1'] } },
  ],
  // Another resource's output is fine here: it is a zone id, resolved at deploy time.
  hostedZones: [zone.zoneId],
  ca: 'staging',
  notificationEmail: 'ops@example.com',
  tags: { team: 'platform' },
});

// The same ARN for the certificate's whole life: every renewal is re-imported into it. It
// resolves only once the first certificate from the CA is behind it (the stack waits for it, up to
// the watch function's 15 minutes), so the listener and the distribution below never see the
// self-signed placeholder, which CloudFront would refuse.
const webCertificateArn = certs.certificates.web.acmArns['us-east-1'];

const alb = new aws.lb.LoadBalancer('web', {
  region: 'us-east-1',
  loadBalancerType: 'application',
  subnets: config.requireObject<string[]>('subnetIds'),
});

export const listener = new aws.lb.Listener('https', {
  region: 'us-east-1',
  loadBalancerArn: alb.arn,
  port: 443,
  protocol: 'HTTPS',
  sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
  certificateArn: webCertificateArn,
  defaultActions: [
    { type: 'fixed-response', fixedResponse: { contentType: 'text/plain', statusCode: '200', messageBody: 'ok' } },
  ],
}).arn;

export const distribution = new aws.cloudfront.Distribution('web', {
  enabled: true,
  aliases: ['example.com'],
  origins: [
    {
      originId: 'alb',
      domainName: alb.dnsName,
      customOriginConfig: {
        httpPort: 80,
        httpsPort: 443,
        originProtocolPolicy: 'https-only',
        originSslProtocols: ['TLSv1.2'],
      },
    },
  ],
  defaultCacheBehavior: {
    targetOriginId: 'alb',
    viewerProtocolPolicy: 'redirect-to-https',
    allowedMethods: ['GET', 'HEAD'],
    cachedMethods: ['GET', 'HEAD'],
    // AWS's managed CachingOptimized policy.
    cachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6',
  },
  restrictions: { geoRestriction: { restrictionType: 'none' } },
  viewerCertificate: {
    acmCertificateArn: webCertificateArn,
    sslSupportMethod: 'sni-only',
    minimumProtocolVersion: 'TLSv1.2_2021',
  },
}).domainName;

// What the rest of the platform reads: the secret (for hosts that fetch the PEM with
// acme-rotation-fetch), the schedule, and where failures are announced.
export const webSecretArn = certs.certificates.web.secretArn;
export const webSchedule = certs.certificates.web.schedule;
export const rotationFunction = certs.functionName;
export const notices = certs.topicArn;
export const dashboard = certs.dashboardName;
