variable "zone" {
  type = string
}

resource "aws_route53_record" "www" {
  zone_id = var.zone
  name    = "www"
  type    = "CNAME"
  ttl     = 300
  records = ["cdn.example.com"]
}
